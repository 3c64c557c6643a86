//! A headless native viewer for benchmarks and tests: the browser's side of one WebRtcTransport
//! (controlling ICE agent, DTLS client, SRTP), built from the same sans-IO pieces as the server.
//! It times ICE, DTLS and the first *complete* key frame of a video stream.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::net::UdpSocket;

use crate::certificate::LocalCertificate;
use crate::dtls::{DtlsState, DtlsTransport, Fingerprint, Role};
use crate::ice::{binding_request, demux, Demux};
use crate::rtp::{self, VideoCodec};

/// One certificate for every viewer of the process (as one browser profile would).
pub fn certificate() -> Arc<LocalCertificate> {
    static CERT: OnceLock<Arc<LocalCertificate>> = OnceLock::new();
    CERT.get_or_init(|| LocalCertificate::generate().expect("client certificate")).clone()
}

pub struct ViewerParams {
    pub server: SocketAddr,
    pub ice_ufrag: String,
    pub ice_pwd: String,
    pub fingerprints: Vec<Fingerprint>,
    pub video_ssrc: u32,
    pub codec: VideoCodec,
    pub timeout: Duration,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ViewerResult {
    pub ice_ms: f64,
    pub dtls_ms: f64,
    pub first_rtp_ms: f64,
    pub first_key_frame_ms: f64,
    pub packets: u64,
}

/// Key frame assembly: the frame is complete when every packet from its first one to the one
/// with the marker bit has arrived.
#[derive(Default)]
struct FrameAssembler {
    start: Option<i64>,
    seqs: BTreeMap<i64, bool>,
    seq: rtp::SeqUnwrapper,
}

impl FrameAssembler {
    /// Feeds one packet; true once a key frame is complete.
    fn push(&mut self, seq: u16, marker: bool, key_start: bool) -> bool {
        let s = self.seq.unwrap(seq);
        if key_start && self.start.is_none_or(|st| s < st || self.seqs.is_empty()) {
            self.start = Some(s);
            self.seqs.retain(|k, _| *k >= s);
        }
        self.seqs.insert(s, marker);
        let Some(start) = self.start else { return false };
        let mut expected = start;
        for (&k, &m) in self.seqs.range(start..) {
            if k != expected {
                return false;
            }
            if m {
                return true;
            }
            expected += 1;
        }
        false
    }
}

pub async fn watch(p: ViewerParams) -> Result<ViewerResult, String> {
    let t0 = Instant::now();
    let ms = |t: Instant| t.saturating_duration_since(t0).as_secs_f64() * 1000.0;
    let local_ip = if p.server.is_ipv4() { "127.0.0.1:0" } else { "[::1]:0" };
    let sock = UdpSocket::bind(local_ip).await.map_err(|e| e.to_string())?;
    let local_ufrag = crate::ice::random_string(8);
    let stun = || binding_request(&p.ice_ufrag, &local_ufrag, &p.ice_pwd, true, false);
    let mut dtls = DtlsTransport::new(certificate());
    dtls.set_remote_fingerprints(t0, p.fingerprints.clone());
    let mut srtp = None;
    let mut result = ViewerResult::default();
    let mut ice_done = false;
    let mut frames = FrameAssembler::default();
    let mut next_stun = t0;
    let mut buf = vec![0u8; 65536];
    let deadline = t0 + p.timeout;
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Err(format!(
                "timed out (ice {}, dtls {:?}, packets {})",
                ice_done,
                dtls.state(),
                result.packets
            ));
        }
        if now >= next_stun {
            sock.send_to(&stun(), p.server).await.map_err(|e| e.to_string())?;
            // Checks fast until ICE answers, then consent every 2 s.
            next_stun = now + if ice_done { Duration::from_secs(2) } else { Duration::from_millis(50) };
        }
        dtls.handle_timeout(now);
        while let Some(d) = dtls.poll_transmit() {
            let _ = sock.send_to(&d, p.server).await;
        }
        let wake = [Some(next_stun), dtls.poll_timeout(), Some(deadline)].into_iter().flatten().min().unwrap_or(deadline);
        let recv = tokio::time::timeout_at(wake.into(), sock.recv_from(&mut buf)).await;
        let Ok(Ok((n, _from))) = recv else { continue };
        let data = &buf[..n];
        let now = Instant::now();
        match demux(data) {
            Demux::Stun => {
                // A success answer (class bits 0b10) completes ICE for us.
                if !ice_done && n >= 2 && (data[0] & 0x01) == 0x01 && (data[1] & 0x10) == 0 {
                    ice_done = true;
                    result.ice_ms = ms(now);
                    dtls.run(now, Role::Client);
                    while let Some(d) = dtls.poll_transmit() {
                        let _ = sock.send_to(&d, p.server).await;
                    }
                    next_stun = now + Duration::from_secs(2);
                }
            }
            Demux::Dtls => {
                dtls.handle_datagram(now, data);
                while let Some(d) = dtls.poll_transmit() {
                    let _ = sock.send_to(&d, p.server).await;
                }
                match dtls.state() {
                    DtlsState::Connected if srtp.is_none() => {
                        result.dtls_ms = ms(now);
                        srtp = dtls.take_srtp();
                    }
                    DtlsState::Failed => return Err("DTLS failed".into()),
                    _ => {}
                }
            }
            Demux::Rtp => {
                let Some(s) = srtp.as_mut() else { continue };
                let Ok(plain) = s.decrypt_rtp(data) else { continue };
                let Some(pkt) = rtp::parse(&plain) else { continue };
                result.packets += 1;
                if result.first_rtp_ms == 0.0 {
                    result.first_rtp_ms = ms(now);
                }
                if pkt.header.ssrc != p.video_ssrc {
                    continue;
                }
                let key = rtp::is_key_frame(p.codec, &pkt.payload);
                if frames.push(pkt.header.sequence_number, pkt.header.marker, key) {
                    result.first_key_frame_ms = ms(now);
                    return Ok(result);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_frame_is_complete_only_with_all_its_packets() {
        let mut f = FrameAssembler::default();
        assert!(!f.push(10, false, false)); // delta frame before any key frame
        assert!(!f.push(11, true, false));
        assert!(!f.push(20, false, true)); // key frame starts
        assert!(!f.push(22, true, false)); // 21 missing
        assert!(f.push(21, false, false)); // arrives late: complete
        let mut g = FrameAssembler::default();
        assert!(g.push(65535, true, true)); // single-packet key frame across the wrap
    }
}
