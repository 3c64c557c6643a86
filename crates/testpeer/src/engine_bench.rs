//! The forwarding benchmark without sockets (benchmark tool): one `Engine` in this thread, fed
//! the native publisher's packets in virtual time on a PlainTransport, forwarding them to K
//! viewers (PlainTransports with SRTP AEAD_AES_128_GCM, a video and an audio consumer each);
//! the thread's CPU time per datagram the engine puts out. No kernel work is in it, so it
//! measures the SFU's own user-space cost per forwarded packet, steadily, where the socket
//! benchmark's figure is mostly the kernel's (and, on loopback, the receivers' delivery).
//!
//! Beside it, the same packets for the same K receivers copied into a buffer each, given the
//! receiver's SSRC and sequence number and sealed in place (what the floor does before its
//! `sendmmsg`): the least user-space work any SFU does per forwarded datagram.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use ferrosoup_sfu::api::{Reply, Request, Settings};
use ferrosoup_sfu::engine::{BoundSocket, EngineConfig};
use ferrosoup_sfu::net::SocketId;
use ferrosoup_sfu::{Engine, Input, Output};
use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use serde::Serialize;
use serde_json::{json, Value};

use crate::media::{AudioConfig, Publisher, VideoConfig};

pub struct EngineBenchOptions {
    pub viewers: usize,
    pub video_kbps: u32,
    pub audio_pps: u32,
    /// Media before the measure (retransmission buffers fill over 2 s).
    pub warm_up: Duration,
    /// Media measured (virtual time).
    pub measured: Duration,
    pub browser_sizes: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EngineBenchResult {
    pub viewers: usize,
    pub packets_in: u64,
    pub datagrams_out: u64,
    pub engine_cpu_seconds: f64,
    /// The engine's CPU time per datagram it put out (ns).
    pub engine_ns_per_datagram: f64,
    /// Copy, renumber and seal per datagram (ns): the floor's user-space work.
    pub seal_ns_per_datagram: f64,
}

/// SRTP master key and salt of every viewer (AEAD_AES_128_GCM: 16 + 12 bytes of 7).
const KEY_BASE64: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBw==";

struct Bench {
    e: Engine,
    now: Instant,
    deadline: Option<Instant>,
    next_socket: u32,
    next_id: u32,
    spent: Vec<Vec<u8>>,
    datagrams: u64,
}

impl Bench {
    fn drain(&mut self) -> Option<Result<Value, String>> {
        let mut reply = None;
        loop {
            match self.e.poll_output() {
                Output::Timeout(t) => {
                    self.deadline = t;
                    break;
                }
                Output::Transmit(t) => {
                    self.datagrams += 1;
                    self.spent.push(t.data);
                }
                Output::Bind { token, sockets } => {
                    let bound = sockets
                        .iter()
                        .map(|s| {
                            self.next_socket += 1;
                            BoundSocket { id: SocketId(self.next_socket), protocol: s.info.protocol, local: SocketAddr::from(([127, 0, 0, 1], 10_000 + self.next_socket as u16)) }
                        })
                        .collect();
                    self.e.handle_input(self.now, Input::Bound { token, result: Ok(bound) });
                }
                Output::Reply { result, .. } => reply = Some(result.map(Reply::into_value).map_err(|e| e.message)),
                _ => {}
            }
        }
        self.e.recycle(&mut self.spent);
        reply
    }

    fn request(&mut self, method: &str, handler: &str, data: Value) -> Result<Value, String> {
        self.next_id += 1;
        let req = Request::from_value(self.next_id, method, handler, data).map_err(|e| e.message)?;
        self.e.handle_input(self.now, Input::Request(req));
        self.drain().unwrap_or_else(|| Err(format!("{method}: no answer")))
    }

    fn feed(&mut self, input: Input<'_>) {
        self.e.handle_input(self.now, input);
        self.drain();
        while self.e.has_more() {
            self.e.handle_input(self.now, Input::Resume);
            self.drain();
        }
    }
}

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid clock id and a live timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

pub fn run(o: &EngineBenchOptions) -> Result<EngineBenchResult, String> {
    let start = Instant::now();
    let config = EngineConfig { settings: Settings::default(), certificate: crate::certificate(), seed: [3; 32], worker: 1, video_padding: 16 };
    let mut b = Bench { e: Engine::new(config, start, SystemTime::now()), now: start, deadline: None, next_socket: 0, next_id: 0, spent: Vec::new(), datagrams: 0 };
    let codecs = json!([
        { "kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2 },
        { "kind": "video", "mimeType": "video/VP8", "clockRate": 90000 },
    ]);
    b.request("worker.createRouter", "", json!({ "routerId": "r", "mediaCodecs": codecs }))?;
    let caps = ferrosoup_sfu::ortc::generate_router_rtp_capabilities(Some(&codecs)).map_err(|e| e.message)?;
    let udp = json!({ "protocol": "udp", "ip": "127.0.0.1" });
    b.request("router.createPlainTransport", "r", json!({ "transportId": "send", "listenInfo": udp, "comedia": true }))?;
    let send_socket = SocketId(b.next_socket);
    let video = json!({ "codecs": [{ "mimeType": "video/VP8", "payloadType": 96, "clockRate": 90000, "rtcpFeedback": [{ "type": "nack" }, { "type": "nack", "parameter": "pli" }] }], "encodings": [{ "ssrc": 1 }] });
    let audio = json!({ "codecs": [{ "mimeType": "audio/opus", "payloadType": 111, "clockRate": 48000, "channels": 2 }], "encodings": [{ "ssrc": 2 }] });
    b.request("transport.produce", "send", json!({ "producerId": "video", "kind": "video", "rtpParameters": video }))?;
    b.request("transport.produce", "send", json!({ "producerId": "audio", "kind": "audio", "rtpParameters": audio }))?;
    let suite = "AEAD_AES_128_GCM";
    for i in 0..o.viewers {
        let t = format!("v{i}");
        b.request("router.createPlainTransport", "r", json!({ "transportId": t, "listenInfo": udp, "enableSrtp": true, "srtpCryptoSuite": suite }))?;
        let srtp = json!({ "cryptoSuite": suite, "keyBase64": KEY_BASE64 });
        b.request("plainTransport.connect", &t, json!({ "ip": "127.0.0.2", "port": 20_000 + i, "srtpParameters": srtp }))?;
        for kind in ["video", "audio"] {
            b.request("transport.consume", &t, json!({ "consumerId": format!("{kind}{i}"), "producerId": kind, "rtpCapabilities": caps }))?;
        }
    }
    let video = VideoConfig { ssrc: 1, payload_type: 96, kbps: o.video_kbps, fps: 30, key_interval: 30, browser_sizes: o.browser_sizes };
    let audio = AudioConfig { ssrc: 2, payload_type: 111, packets_per_second: o.audio_pps, limit: 0 };
    let mut publisher = Publisher::new(start, Some(video), Some(audio), 0);
    let from = SocketAddr::from(([127, 0, 0, 3], 5000));
    let (measure_at, end) = (start + o.warm_up, start + o.warm_up + o.measured);
    let mut measured: Option<(Duration, u64, u64)> = None;
    let mut packets = Vec::new();
    let mut packets_in = 0u64;
    loop {
        let due = publisher.next_due().unwrap_or(end);
        let next = b.deadline.map_or(due, |d| d.min(due));
        if next >= end {
            break;
        }
        b.now = next;
        if measured.is_none() && next >= measure_at {
            measured = Some((thread_cpu(), b.datagrams, packets_in));
        }
        if b.deadline.is_some_and(|d| d <= next) {
            b.feed(Input::Timeout);
        }
        if due <= next {
            for p in publisher.poll(next) {
                b.feed(Input::Datagram { socket: send_socket, from, data: &p });
                packets_in += 1;
                if measured.is_some() {
                    packets.push(p);
                }
            }
        }
    }
    let (cpu0, datagrams0, packets0) = measured.ok_or("nothing measured")?;
    let cpu = thread_cpu() - cpu0;
    let datagrams = b.datagrams - datagrams0;
    // The floor's user-space work on the same packets for the same receivers.
    let mut receivers: Vec<(LessSafeKey, [u8; 12], u32, u16, Vec<u8>)> = (0..o.viewers)
        .map(|i| {
            let mut key = [0u8; 16];
            key[..8].copy_from_slice(&(i as u64).to_be_bytes());
            let key = LessSafeKey::new(UnboundKey::new(&aead::AES_128_GCM, &key).expect("a key"));
            (key, [i as u8; 12], 0x1000_0000 + i as u32, i as u16, Vec::with_capacity(1500))
        })
        .collect();
    let seal0 = thread_cpu();
    let mut sealed = 0u64;
    for p in &packets {
        for (key, salt, ssrc, seq, b) in &mut receivers {
            b.clear();
            b.extend_from_slice(p);
            b[2..4].copy_from_slice(&seq.to_be_bytes());
            b[8..12].copy_from_slice(&ssrc.to_be_bytes());
            *seq = seq.wrapping_add(1);
            let mut nonce = *salt;
            for (n, x) in nonce[2..6].iter_mut().zip(ssrc.to_be_bytes()) {
                *n ^= x;
            }
            for (n, x) in nonce[10..12].iter_mut().zip(b[2..4].iter()) {
                *n ^= x;
            }
            let (aad, body) = b.split_at_mut(12);
            let tag = key.seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(&*aad), body).map_err(|e| e.to_string())?;
            b.extend_from_slice(tag.as_ref());
            sealed += 1;
        }
    }
    let seal = thread_cpu() - seal0;
    Ok(EngineBenchResult {
        viewers: o.viewers,
        packets_in: packets_in - packets0,
        datagrams_out: datagrams,
        engine_cpu_seconds: cpu.as_secs_f64(),
        engine_ns_per_datagram: cpu.as_nanos() as f64 / datagrams.max(1) as f64,
        seal_ns_per_datagram: seal.as_nanos() as f64 / sealed.max(1) as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_viewer_gets_every_packet() {
        let o = EngineBenchOptions { viewers: 3, video_kbps: 300, audio_pps: 50, warm_up: Duration::from_millis(500), measured: Duration::from_secs(1), browser_sizes: true };
        let r = run(&o).unwrap();
        assert!(r.packets_in > 50, "{}", r.packets_in);
        // Each packet to each viewer (the sender reports on top).
        assert!(r.datagrams_out >= r.packets_in * 3, "{} for {} packets", r.datagrams_out, r.packets_in);
        assert!(r.datagrams_out <= r.packets_in * 3 + 20, "{} for {} packets", r.datagrams_out, r.packets_in);
    }
}
