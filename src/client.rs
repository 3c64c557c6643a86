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

/// A connected peer: ICE done, DTLS done, SRTP keys in hand.
struct Connected {
    sock: UdpSocket,
    srtp: crate::srtp::SrtpSession,
    stun: Vec<u8>,
    t0: Instant,
    ice_ms: f64,
    dtls_ms: f64,
}

/// ICE (as controlling agent, nominating at once) and DTLS (client) with the server.
async fn connect(p: &ViewerParams) -> Result<Connected, String> {
    let t0 = Instant::now();
    let ms = |t: Instant| t.saturating_duration_since(t0).as_secs_f64() * 1000.0;
    let local_ip = if p.server.is_ipv4() { "127.0.0.1:0" } else { "[::1]:0" };
    let sock = UdpSocket::bind(local_ip).await.map_err(|e| e.to_string())?;
    let local_ufrag = crate::ice::random_string(8);
    let stun = binding_request(&p.ice_ufrag, &local_ufrag, &p.ice_pwd, true, false);
    let mut dtls = DtlsTransport::new(certificate());
    dtls.set_remote_fingerprints(t0, p.fingerprints.clone());
    let mut ice_ms = None;
    let mut next_stun = t0;
    let mut buf = vec![0u8; 65536];
    let deadline = t0 + p.timeout;
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Err(format!("timed out connecting (ice {}, dtls {:?})", ice_ms.is_some(), dtls.state()));
        }
        if ice_ms.is_none() && now >= next_stun {
            sock.send_to(&stun, p.server).await.map_err(|e| e.to_string())?;
            next_stun = now + Duration::from_millis(50);
        }
        dtls.handle_timeout(now);
        while let Some(d) = dtls.poll_transmit() {
            let _ = sock.send_to(&d, p.server).await;
        }
        let wake = [Some(next_stun), dtls.poll_timeout(), Some(deadline)].into_iter().flatten().min().unwrap_or(deadline);
        let Ok(Ok((n, _))) = tokio::time::timeout_at(wake.into(), sock.recv_from(&mut buf)).await else { continue };
        let data = &buf[..n];
        let now = Instant::now();
        match demux(data) {
            // A Binding success (class bits 0b10) completes ICE for us.
            Demux::Stun if ice_ms.is_none() && n >= 2 && (data[0] & 0x01) == 0x01 && (data[1] & 0x10) == 0 => {
                ice_ms = Some(ms(now));
                dtls.run(now, Role::Client);
                while let Some(d) = dtls.poll_transmit() {
                    let _ = sock.send_to(&d, p.server).await;
                }
            }
            Demux::Dtls => {
                dtls.handle_datagram(now, data);
                while let Some(d) = dtls.poll_transmit() {
                    let _ = sock.send_to(&d, p.server).await;
                }
                match dtls.state() {
                    DtlsState::Connected => {
                        let srtp = dtls.take_srtp().ok_or("no SRTP keys")?;
                        return Ok(Connected { sock, srtp, stun, t0, ice_ms: ice_ms.unwrap_or(0.0), dtls_ms: ms(now) });
                    }
                    DtlsState::Failed => return Err("DTLS failed".into()),
                    _ => {}
                }
            }
            _ => {}
        }
    }
}

pub async fn watch(p: ViewerParams) -> Result<ViewerResult, String> {
    let mut c = connect(&p).await?;
    let ms = |t: Instant| t.saturating_duration_since(c.t0).as_secs_f64() * 1000.0;
    let mut result = ViewerResult { ice_ms: c.ice_ms, dtls_ms: c.dtls_ms, ..Default::default() };
    let mut frames = FrameAssembler::default();
    let mut buf = vec![0u8; 65536];
    let deadline = c.t0 + p.timeout;
    let mut next_stun = Instant::now() + Duration::from_secs(2);
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Err(format!("timed out waiting for a key frame (packets {})", result.packets));
        }
        if now >= next_stun {
            let _ = c.sock.send_to(&c.stun, p.server).await;
            next_stun = now + Duration::from_secs(2);
        }
        let wake = next_stun.min(deadline);
        let Ok(Ok((n, _))) = tokio::time::timeout_at(wake.into(), c.sock.recv_from(&mut buf)).await else { continue };
        if demux(&buf[..n]) != Demux::Rtp {
            continue;
        }
        let Ok(plain) = c.srtp.decrypt_rtp(&buf[..n]) else { continue };
        let Some(pkt) = rtp::parse(&plain) else { continue };
        result.packets += 1;
        let now = Instant::now();
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
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CountResult {
    pub dtls_ms: f64,
    pub packets: u64,
    pub bytes: u64,
    /// With `verify`: per SSRC, what was decrypted (RTP only).
    pub streams: Vec<StreamCount>,
}

/// What a verifying receiver saw of one stream: packets, distinct sequence numbers, and the
/// span they cover (extended across wraps), so that gaps and duplicates show.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamCount {
    pub ssrc: u32,
    pub packets: u64,
    pub distinct: u64,
    pub first_seq: i64,
    pub last_seq: i64,
    pub wraps: u64,
    #[serde(skip)]
    seen: std::collections::HashSet<i64>,
    #[serde(skip)]
    unwrap: rtp::SeqUnwrapper,
}

/// Asks the kernel for a large receive buffer (beyond rmem_max where allowed), so a busy
/// machine does not drop what a verifying receiver must count.
fn big_receive_buffer(sock: &UdpSocket) {
    use std::os::fd::AsRawFd;
    let size: libc::c_int = 8 << 20;
    // SAFETY: setsockopt reads `size` for the duration of the call.
    unsafe {
        let fd = sock.as_raw_fd();
        let p = &size as *const libc::c_int as *const libc::c_void;
        let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        if libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, p, len) != 0 {
            libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, p, len);
        }
    }
}

/// Connects, then counts RTP/RTCP datagrams for `duration`. Without `verify` nothing is
/// decrypted (a load sink); with it, RTP is decrypted and counted per SSRC and sequence number.
///
/// With `expect_packets`, returns as soon as a verified stream has received that many packets.
pub async fn count(p: ViewerParams, duration: Duration, verify: bool, expect_packets: u64) -> Result<CountResult, String> {
    let mut c = connect(&p).await?;
    if verify {
        big_receive_buffer(&c.sock);
    }
    let mut r = CountResult { dtls_ms: c.dtls_ms, ..Default::default() };
    let mut buf = vec![0u8; 65536];
    let end = Instant::now() + duration;
    let mut next_stun = Instant::now() + Duration::from_secs(2);
    loop {
        let now = Instant::now();
        let done = expect_packets > 0 && r.streams.iter().any(|s| s.packets >= expect_packets);
        if now >= end || done {
            for s in &mut r.streams {
                s.distinct = s.seen.len() as u64;
                s.first_seq = s.seen.iter().min().copied().unwrap_or(0);
                s.last_seq = s.seen.iter().max().copied().unwrap_or(0);
                s.wraps = ((s.last_seq >> 16) - (s.first_seq >> 16)) as u64;
            }
            return Ok(r);
        }
        if now >= next_stun {
            let _ = c.sock.send_to(&c.stun, p.server).await;
            next_stun = now + Duration::from_secs(2);
        }
        let Ok(Ok((n, _))) = tokio::time::timeout_at(next_stun.min(end).into(), c.sock.recv_from(&mut buf)).await else { continue };
        let kind = demux(&buf[..n]);
        if !matches!(kind, Demux::Rtp | Demux::Rtcp) {
            continue;
        }
        r.packets += 1;
        r.bytes += n as u64;
        if !verify || kind != Demux::Rtp {
            continue;
        }
        let Ok(plain) = c.srtp.decrypt_rtp(&buf[..n]) else { continue };
        let Some(pkt) = rtp::parse(&plain) else { continue };
        let i = match r.streams.iter().position(|s| s.ssrc == pkt.header.ssrc) {
            Some(i) => i,
            None => {
                r.streams.push(StreamCount { ssrc: pkt.header.ssrc, ..Default::default() });
                r.streams.len() - 1
            }
        };
        let s = &mut r.streams[i];
        s.packets += 1;
        // Offset so that extended numbers stay positive.
        let ext = s.unwrap.unwrap(pkt.header.sequence_number) + (1 << 20);
        s.seen.insert(ext);
    }
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishResult {
    pub dtls_ms: f64,
    pub video_packets: u64,
    pub audio_packets: u64,
}

/// What a native publisher sends.
pub struct PublishOptions {
    pub audio_ssrc: u32,
    pub video_kbps: u32,
    pub duration: Duration,
    /// Audio packets per second (50 for Opus's 20 ms frames).
    pub audio_pps: u32,
    /// Stop audio after this many packets (0: no limit).
    pub audio_packets: u64,
    /// First sequence number of each stream (near 65535 to cross the wrap at once).
    pub first_seq: u16,
}

impl Default for PublishOptions {
    fn default() -> Self {
        PublishOptions { audio_ssrc: 0, video_kbps: 1500, duration: Duration::from_secs(5), audio_pps: 50, audio_packets: 0, first_seq: 0 }
    }
}

/// Connects, then sends synthetic VP8 video (`video_kbps`, 30 fps, key frame every second; none
/// when `video_ssrc` is 0) and Opus-sized audio (`audio_pps`) over SRTP for `duration`.
pub async fn publish(p: ViewerParams, o: PublishOptions) -> Result<PublishResult, String> {
    use bytes::Bytes;
    use rtc_rtp::header::Header;
    use rtc_rtp::packet::Packet;
    let mut c = connect(&p).await?;
    let mut r = PublishResult { dtls_ms: c.dtls_ms, ..Default::default() };
    let frame_bytes = (o.video_kbps as usize * 1000 / 8) / 30;
    let per_frame = frame_bytes.div_ceil(1100).max(1);
    let chunk = frame_bytes / per_frame;
    let (mut vseq, mut aseq, mut vts, mut ats) = (o.first_seq, o.first_seq, 0u32, 0u32);
    let start = Instant::now();
    let end = start + o.duration;
    let mut frame = 0u64;
    let mut next_stun = start + Duration::from_secs(2);
    let mut buf = vec![0u8; 2048];
    let mut out: Vec<Vec<u8>> = Vec::new();
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        // Video frames due (30 fps).
        while p.video_ssrc != 0 && start + Duration::from_micros(frame * 33_333) <= now {
            let key = frame % 30 == 0;
            for i in 0..per_frame {
                let mut payload = vec![0xABu8; chunk.max(4)];
                payload[0] = if i == 0 { 0x10 } else { 0x00 };
                payload[1] = if key { 0x00 } else { 0x01 };
                let pkt = Packet {
                    header: Header { version: 2, payload_type: 96, sequence_number: vseq, timestamp: vts, ssrc: p.video_ssrc, marker: i + 1 == per_frame, ..Default::default() },
                    payload: Bytes::from(payload),
                };
                vseq = vseq.wrapping_add(1);
                if let Some(plain) = rtp::marshal(&pkt) {
                    if let Ok(sealed) = c.srtp.encrypt_rtp(&plain) {
                        out.push(sealed.to_vec());
                        r.video_packets += 1;
                    }
                }
            }
            vts = vts.wrapping_add(3000);
            frame += 1;
        }
        // Audio packets due.
        let audio_due = (now.saturating_duration_since(start).as_micros() as u64 * u64::from(o.audio_pps) / 1_000_000).saturating_sub(r.audio_packets);
        let audio_left = if o.audio_packets == 0 { u64::MAX } else { o.audio_packets - r.audio_packets };
        for _ in 0..audio_due.min(audio_left) {
            if o.audio_ssrc == 0 {
                break;
            }
            let pkt = Packet {
                header: Header { version: 2, payload_type: 111, sequence_number: aseq, timestamp: ats, ssrc: o.audio_ssrc, ..Default::default() },
                payload: Bytes::from(vec![0x5Au8; 100]),
            };
            aseq = aseq.wrapping_add(1);
            ats = ats.wrapping_add(48_000 / o.audio_pps.max(1));
            if let Some(plain) = rtp::marshal(&pkt) {
                if let Ok(sealed) = c.srtp.encrypt_rtp(&plain) {
                    out.push(sealed.to_vec());
                    r.audio_packets += 1;
                }
            }
        }
        for d in out.drain(..) {
            let _ = c.sock.send_to(&d, p.server).await;
        }
        // Drain what the server sends back (reports, feedback) without acting on it.
        while c.sock.try_recv_from(&mut buf).is_ok() {}
        if Instant::now() >= next_stun {
            let _ = c.sock.send_to(&c.stun, p.server).await;
            next_stun += Duration::from_secs(2);
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(r)
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
