//! Test peers over real UDP sockets (tokio): a viewer that times ICE, DTLS and the first complete
//! key frame; a counting receiver (a load sink, or verifying every packet of every stream); a
//! publisher of synthetic media. What the JS tests and benchmarks run through the tools addon.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferrosoup_sfu::net::rng::Rng;
use ferrosoup_sfu::rtp::{self, VideoCodec};
use serde::Serialize;
use tokio::net::UdpSocket;

use crate::media::{AudioConfig, Publisher, VideoConfig};
use crate::peer::{PeerEvent, ServerParams, TestPeer};
use crate::receiver::{FrameAssembler, StreamCount, StreamCounter};

pub struct ViewerParams {
    pub server: ServerParams,
    pub video_ssrc: u32,
    pub codec: VideoCodec,
    pub timeout: Duration,
}

/// A peer with its socket, connected (ICE and DTLS done).
struct Connection {
    sock: UdpSocket,
    peer: TestPeer,
    t0: Instant,
    ice_ms: f64,
    dtls_ms: f64,
}

fn ms_since(t0: Instant, t: Instant) -> f64 {
    t.saturating_duration_since(t0).as_secs_f64() * 1000.0
}

impl Connection {
    async fn flush(&mut self) {
        let to = self.peer.server_addr();
        while let Some(d) = self.peer.poll_transmit() {
            let _ = self.sock.send_to(&d, to).await;
        }
    }

    /// Waits for the next datagram or timer (until `deadline`), feeding the peer.
    async fn turn(&mut self, buf: &mut [u8], deadline: Instant) {
        let wake = self.peer.poll_timeout().map_or(deadline, |t| t.min(deadline));
        match tokio::time::timeout_at(wake.into(), self.sock.recv_from(buf)).await {
            Ok(Ok((n, from))) if from == self.peer.server_addr() => self.peer.handle_datagram(Instant::now(), &buf[..n]),
            _ => self.peer.handle_timeout(Instant::now()),
        }
        self.flush().await;
    }
}

/// ICE (as controlling agent, nominating at once) and DTLS (client) with the server.
async fn connect(server: ServerParams, timeout: Duration) -> Result<Connection, String> {
    let t0 = Instant::now();
    let local = if server.addr.is_ipv4() { "127.0.0.1:0" } else { "[::1]:0" };
    let sock = UdpSocket::bind(local).await.map_err(|e| e.to_string())?;
    let mut rng = Rng::from_os();
    let peer = TestPeer::new(t0, server, crate::certificate(), &mut rng);
    let mut c = Connection { sock, peer, t0, ice_ms: 0.0, dtls_ms: 0.0 };
    c.peer.handle_timeout(t0);
    c.flush().await;
    let deadline = t0 + timeout;
    let mut buf = vec![0u8; 65536];
    loop {
        if Instant::now() >= deadline {
            return Err(format!("timed out connecting (ice {})", c.ice_ms > 0.0));
        }
        c.turn(&mut buf, deadline).await;
        while let Some(e) = c.peer.poll_event() {
            match e {
                PeerEvent::IceConnected => c.ice_ms = ms_since(t0, Instant::now()),
                PeerEvent::Connected => {
                    c.dtls_ms = ms_since(t0, Instant::now());
                    return Ok(c);
                }
                PeerEvent::Failed(why) => return Err(why),
                _ => {}
            }
        }
    }
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

/// Connects and resolves when the first complete key frame of `video_ssrc` has arrived.
pub async fn watch(p: ViewerParams) -> Result<ViewerResult, String> {
    let mut c = connect(p.server, p.timeout).await?;
    let t0 = c.t0;
    let mut result = ViewerResult { ice_ms: c.ice_ms, dtls_ms: c.dtls_ms, ..Default::default() };
    let mut frames = FrameAssembler::default();
    let mut buf = vec![0u8; 65536];
    let deadline = t0 + p.timeout;
    loop {
        if Instant::now() >= deadline {
            return Err(format!("timed out waiting for a key frame (packets {})", result.packets));
        }
        c.turn(&mut buf, deadline).await;
        while let Some(e) = c.peer.poll_event() {
            let PeerEvent::Rtp(plain) = e else { continue };
            let Some(pkt) = rtp::parse(&plain) else { continue };
            result.packets += 1;
            let now = Instant::now();
            if result.first_rtp_ms == 0.0 {
                result.first_rtp_ms = ms_since(t0, now);
            }
            if pkt.header.ssrc != p.video_ssrc {
                continue;
            }
            let key = rtp::is_key_frame(p.codec, &pkt.payload);
            if frames.push(pkt.header.sequence_number, pkt.header.marker, key) {
                result.first_key_frame_ms = ms_since(t0, now);
                return Ok(result);
            }
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
    /// With `verify`: the one-way delay of synthetic video from a native publisher on this
    /// machine (ms), median and 99th percentile, over what arrived after the first second.
    pub delay_p50_ms: Option<f64>,
    pub delay_p99_ms: Option<f64>,
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
/// decrypted (a load sink); with it, RTP is decrypted and counted per SSRC and sequence number,
/// returning as soon as a stream has `expect_packets` (when given).
pub async fn count(server: ServerParams, duration: Duration, timeout: Duration, verify: bool, expect_packets: u64) -> Result<CountResult, String> {
    let mut c = connect(server, timeout).await?;
    if verify {
        big_receive_buffer(&c.sock);
    }
    let mut r = CountResult { dtls_ms: c.dtls_ms, ..Default::default() };
    let mut counter = StreamCounter::default();
    let mut delays: Vec<u64> = Vec::new();
    let mut buf = vec![0u8; 65536];
    let end = Instant::now() + duration;
    // Delays count from 1 s on: what a key frame cache replays first carries old send times.
    let live_from = Instant::now() + Duration::from_secs(1);
    let server_addr = c.peer.server_addr();
    loop {
        let now = Instant::now();
        if now >= end || (expect_packets > 0 && counter.max_packets() >= expect_packets) {
            r.streams = counter.summary();
            delays.sort_unstable();
            let pick = |q: f64| delays.get(((delays.len() as f64 * q) as usize).min(delays.len().saturating_sub(1))).map(|us| *us as f64 / 1000.0);
            r.delay_p50_ms = pick(0.5);
            r.delay_p99_ms = pick(0.99);
            return Ok(r);
        }
        let wake = c.peer.poll_timeout().map_or(end, |t| t.min(end));
        let Ok(Ok((n, from))) = tokio::time::timeout_at(wake.into(), c.sock.recv_from(&mut buf)).await else {
            c.peer.handle_timeout(Instant::now());
            c.flush().await;
            continue;
        };
        if from != server_addr {
            continue;
        }
        let data = &buf[..n];
        let is_media = matches!(ferrosoup_sfu::net::ice::demux(data), ferrosoup_sfu::net::ice::Demux::Rtp | ferrosoup_sfu::net::ice::Demux::Rtcp);
        if is_media {
            r.packets += 1;
            r.bytes += n as u64;
        }
        if !verify && is_media {
            continue;
        }
        c.peer.handle_datagram(Instant::now(), data);
        while let Some(e) = c.peer.poll_event() {
            if let PeerEvent::Rtp(plain) = e {
                if let Some(p) = rtp::parse(&plain) {
                    if let Some(d) = crate::media::one_way_delay_us(&p.payload).filter(|_| Instant::now() >= live_from) {
                        delays.push(d);
                    }
                    counter.push(&p);
                }
            }
        }
        c.flush().await;
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
    pub video_ssrc: u32,
    pub audio_ssrc: u32,
    pub video_kbps: u32,
    pub duration: Duration,
    pub timeout: Duration,
    /// Audio packets per second (50 for Opus's 20 ms frames).
    pub audio_pps: u32,
    /// Stop audio after this many packets (0: no limit).
    pub audio_packets: u64,
    /// First sequence number of each stream (near 65535 to cross the wrap at once).
    pub first_seq: u16,
    /// Split frames as libwebrtc does (sizes differ by a byte) instead of equally.
    pub browser_sizes: bool,
}

impl Default for PublishOptions {
    fn default() -> Self {
        PublishOptions {
            video_ssrc: 0,
            audio_ssrc: 0,
            video_kbps: 1500,
            duration: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            audio_pps: 50,
            audio_packets: 0,
            first_seq: 0,
            browser_sizes: false,
        }
    }
}

/// Connects, then sends synthetic VP8 video (30 fps, a key frame every second or on request; none
/// when `video_ssrc` is 0) and Opus-sized audio (none when `audio_ssrc` is 0) over SRTP for
/// `duration`, answering NACKs.
pub async fn publish(server: ServerParams, o: PublishOptions) -> Result<PublishResult, String> {
    let mut c = connect(server, o.timeout).await?;
    let start = Instant::now();
    let video = (o.video_ssrc != 0).then(|| VideoConfig { ssrc: o.video_ssrc, payload_type: 96, kbps: o.video_kbps, fps: 30, key_interval: 30, browser_sizes: o.browser_sizes });
    let audio = (o.audio_ssrc != 0).then(|| AudioConfig { ssrc: o.audio_ssrc, payload_type: 111, packets_per_second: o.audio_pps, limit: o.audio_packets });
    let mut publisher = Publisher::new(start, video, audio, o.first_seq);
    let end = start + o.duration;
    let mut buf = vec![0u8; 65536];
    let server_addr: SocketAddr = c.peer.server_addr();
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        for p in publisher.poll(now) {
            c.peer.send_rtp(&p);
        }
        // What the server sends back: reports and feedback (NACKs answered, PLI honoured).
        while let Ok((n, from)) = c.sock.try_recv_from(&mut buf) {
            if from == server_addr {
                c.peer.handle_datagram(Instant::now(), &buf[..n]);
            }
        }
        while let Some(e) = c.peer.poll_event() {
            if let PeerEvent::Rtcp(plain) = e {
                for p in publisher.on_rtcp(&plain) {
                    c.peer.send_rtp(&p);
                }
            }
        }
        c.peer.handle_timeout(Instant::now());
        c.flush().await;
        let next = [publisher.next_due(), c.peer.poll_timeout(), Some(end)].into_iter().flatten().min().unwrap_or(end);
        // Sleep until the next packet is due (at most 1 ms, so feedback is read in time).
        let wake = next.min(Instant::now() + Duration::from_millis(1));
        tokio::time::sleep_until(wake.into()).await;
    }
    Ok(PublishResult { dtls_ms: c.dtls_ms, video_packets: publisher.video_packets, audio_packets: publisher.audio_packets })
}
