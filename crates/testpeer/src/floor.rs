//! The forwarding floor (benchmark tool): what sending the forwarded datagrams costs with no SFU
//! logic at all. The publisher's packets (same generator, rate and sizes as the benchmark's
//! native publisher) are, for each of K receivers, copied into a buffer kept for it, given that
//! receiver's SSRC and sequence number, sealed in place with SRTP AEAD_AES_128_GCM (its own key,
//! `ring`, as the worker does) and sent with one `sendmmsg(2)` per receiver per turn from a
//! socket of its own (as a WebRtcTransport has). The sending thread's own CPU time per million
//! datagrams is the floor; K receiving sockets are drained by another thread, not counted.

use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use serde::Serialize;

use crate::media::{AudioConfig, Publisher, VideoConfig};

pub struct FloorOptions {
    pub receivers: usize,
    pub video_kbps: u32,
    pub audio_pps: u32,
    pub duration: Duration,
    /// The publisher splits frames as libwebrtc does (see `VideoConfig::browser_sizes`).
    pub browser_sizes: bool,
    /// One socket for every receiver (as a WebRtcServer has): a turn's datagrams to all of
    /// them leave in one `sendmmsg` (up to 1,024 each) instead of one per receiver.
    pub one_socket: bool,
    /// The sending thread on this CPU only for the run (benchmarks that steer the receivers'
    /// kernel work to another CPU).
    pub sender_cpu: Option<usize>,
}

/// Keeps the calling thread on `cpu` until dropped (then as it was).
struct Pinned(Option<libc::cpu_set_t>);

impl Pinned {
    fn to(cpu: Option<usize>) -> Pinned {
        let Some(cpu) = cpu else { return Pinned(None) };
        // SAFETY: sched_{get,set}affinity on this thread with a zeroed set of the right size.
        unsafe {
            let mut was: libc::cpu_set_t = std::mem::zeroed();
            if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut was) != 0 {
                return Pinned(None);
            }
            let mut one: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut one);
            if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &one) != 0 {
                return Pinned(None);
            }
            Pinned(Some(was))
        }
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        if let Some(was) = self.0.as_ref() {
            // SAFETY: as above.
            unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), was) };
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FloorResult {
    pub receivers: usize,
    pub one_socket: bool,
    pub datagrams: u64,
    pub syscalls: u64,
    pub send_failures: u64,
    pub thread_cpu_seconds: f64,
    pub wall_seconds: f64,
    pub cpu_seconds_per_million: f64,
    pub datagrams_per_second: f64,
}

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid clock id and a live timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

struct Receiver {
    send: UdpSocket,
    to: socket2::SockAddr,
    key: LessSafeKey,
    salt: [u8; 12],
    ssrc: u32,
    seq: u16,
    /// One buffer per datagram of a turn, reused.
    bufs: Vec<Vec<u8>>,
}

/// Drains `sockets` until `stop` (epoll; what arrives is dropped).
fn drain(sockets: Vec<UdpSocket>, stop: Arc<AtomicBool>) {
    // SAFETY: plain epoll calls on descriptors owned by `sockets`, which outlive the loop.
    let ep = unsafe { libc::epoll_create1(0) };
    for (i, s) in sockets.iter().enumerate() {
        let mut ev = libc::epoll_event { events: libc::EPOLLIN as u32, u64: i as u64 };
        unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, s.as_raw_fd(), &mut ev) };
    }
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        let n = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), events.len() as i32, 50) };
        for ev in events.iter().take(n.max(0) as usize) {
            let s = &sockets[ev.u64 as usize];
            while s.recv(&mut buf).is_ok() {}
        }
    }
    unsafe { libc::close(ep) };
}

pub fn run(o: FloorOptions) -> Result<FloorResult, String> {
    let err = |e: std::io::Error| e.to_string();
    let mut receivers = Vec::with_capacity(o.receivers);
    let mut sinks = Vec::with_capacity(o.receivers);
    for i in 0..o.receivers {
        let sink = UdpSocket::bind("127.0.0.1:0").map_err(err)?;
        sink.set_nonblocking(true).map_err(err)?;
        let send = UdpSocket::bind("127.0.0.1:0").map_err(err)?;
        send.set_nonblocking(true).map_err(err)?;
        let to = socket2::SockAddr::from(sink.local_addr().map_err(err)?);
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&(i as u64).to_be_bytes());
        let key = LessSafeKey::new(UnboundKey::new(&aead::AES_128_GCM, &key).map_err(|e| e.to_string())?);
        receivers.push(Receiver { send, to, key, salt: [i as u8; 12], ssrc: 0x1000_0000 + i as u32, seq: i as u16, bufs: Vec::new() });
        sinks.push(sink);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let drainer = {
        let stop = stop.clone();
        std::thread::spawn(move || drain(sinks, stop))
    };
    let _pinned = Pinned::to(o.sender_cpu);
    let start = Instant::now();
    let video = VideoConfig { ssrc: 1, payload_type: 96, kbps: o.video_kbps, fps: 30, key_interval: 30, browser_sizes: o.browser_sizes };
    let audio = AudioConfig { ssrc: 2, payload_type: 111, packets_per_second: o.audio_pps, limit: 0 };
    let mut publisher = Publisher::new(start, Some(video), Some(audio), 0);
    let end = start + o.duration;
    let (mut datagrams, mut syscalls, mut failures) = (0u64, 0u64, 0u64);
    let cpu0 = thread_cpu();
    let mut msgs: Vec<libc::mmsghdr> = Vec::new();
    let mut iovs: Vec<libc::iovec> = Vec::new();
    let mut owners: Vec<usize> = Vec::new();
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        let turn = publisher.poll(now);
        for r in &mut receivers {
            while r.bufs.len() < turn.len() {
                r.bufs.push(Vec::with_capacity(1500));
            }
            for (p, b) in turn.iter().zip(&mut r.bufs) {
                b.clear();
                b.extend_from_slice(p);
                b[2..4].copy_from_slice(&r.seq.to_be_bytes());
                b[8..12].copy_from_slice(&r.ssrc.to_be_bytes());
                r.seq = r.seq.wrapping_add(1);
                // RFC 7714 nonce: salt XOR (0, SSRC, ROC, SEQ); the header is the AAD.
                let mut nonce = r.salt;
                for (n, x) in nonce[2..6].iter_mut().zip(r.ssrc.to_be_bytes()) {
                    *n ^= x;
                }
                for (n, x) in nonce[10..12].iter_mut().zip(b[2..4].iter()) {
                    *n ^= x;
                }
                let (aad, body) = b.split_at_mut(12);
                let tag = r.key.seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(&*aad), body).map_err(|e| e.to_string())?;
                b.extend_from_slice(tag.as_ref());
            }
        }
        // Then out: per receiver's socket, or all at once from one socket.
        let group_size = if o.one_socket { receivers.len() } else { 1 };
        for group in receivers.chunks(group_size) {
            iovs.clear();
            owners.clear();
            for (i, r) in group.iter().enumerate() {
                for b in &r.bufs[..turn.len()] {
                    iovs.push(libc::iovec { iov_base: b.as_ptr() as *mut libc::c_void, iov_len: b.len() });
                    owners.push(i);
                }
            }
            msgs.clear();
            for (iov, &i) in iovs.iter_mut().zip(&owners) {
                let to = &group[i].to;
                // SAFETY: an all-zero msghdr is valid; the pointers set here outlive the call.
                let mut h: libc::msghdr = unsafe { std::mem::zeroed() };
                h.msg_name = to.as_ptr() as *mut libc::c_void;
                h.msg_namelen = to.len();
                h.msg_iov = iov as *mut libc::iovec;
                h.msg_iovlen = 1;
                msgs.push(libc::mmsghdr { msg_hdr: h, msg_len: 0 });
            }
            let fd = group[0].send.as_raw_fd();
            let mut off = 0;
            while off < msgs.len() {
                syscalls += 1;
                let batch = (msgs.len() - off).min(1024);
                // SAFETY: `msgs[off..off + batch]` points at live iovecs and addresses.
                let n = unsafe { libc::sendmmsg(fd, msgs[off..].as_mut_ptr(), batch as libc::c_uint, libc::MSG_DONTWAIT) };
                if n <= 0 {
                    // Socket buffer full (one socket for all): the rest of the batch is lost.
                    failures += batch as u64;
                    off += batch;
                    continue;
                }
                off += n as usize;
                datagrams += n as u64;
            }
        }
        if let Some(next) = publisher.next_due() {
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
        }
    }
    let cpu = (thread_cpu() - cpu0).as_secs_f64();
    let wall = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let _ = drainer.join();
    Ok(FloorResult {
        receivers: o.receivers,
        one_socket: o.one_socket,
        datagrams,
        syscalls,
        send_failures: failures,
        thread_cpu_seconds: cpu,
        wall_seconds: wall,
        cpu_seconds_per_million: cpu / (datagrams.max(1) as f64 / 1e6),
        datagrams_per_second: datagrams as f64 / wall,
    })
}
