//! UDP sends of one worker turn, batched: datagrams are queued for the rest of the turn and
//! then leave per socket with one `sendmmsg(2)` (a video frame's packets to one viewer: one
//! syscall, not five). Consecutive datagrams to one destination of one size (the last may be
//! shorter) go as one message with UDP generic segmentation offload (`UDP_SEGMENT`): the kernel
//! takes them through its send path once and splits them at the end.

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::UdpSocket;

/// Datagrams queued during one turn of the worker, sent by [`SendQueue::flush`].
#[derive(Default)]
pub struct SendQueue {
    items: Vec<(Rc<UdpSocket>, SocketAddr, Vec<u8>)>,
    /// Datagrams the kernel refused (socket buffer full, unreachable...).
    pub failures: u64,
    /// Send syscalls made and datagrams sent, for benchmarks.
    pub syscalls: u64,
    pub datagrams: u64,
    /// Messages that carried several datagrams by segmentation offload, and those datagrams.
    pub gso_messages: u64,
    pub gso_datagrams: u64,
    /// Room for building each batch's messages, kept from turn to turn (no allocation per send).
    scratch: Scratch,
    /// The buffers of datagrams sent, for the engine to reuse (see `take_spent`).
    spent: Vec<Vec<u8>>,
    /// Sort keys and where each datagram goes, kept from turn to turn.
    keys: Vec<u128>,
    dest: Vec<u32>,
}

#[derive(Default)]
struct Scratch {
    plan: Vec<Message>,
    addrs: Vec<socket2::SockAddr>,
    iovs: Vec<libc::iovec>,
    controls: Vec<[u64; 4]>,
    msgs: Vec<libc::mmsghdr>,
}

/// `FERROSOUP_SENDMMSG=0` sends each datagram with its own sendto(2) (for A/B benchmarks).
fn batching() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("FERROSOUP_SENDMMSG").map_or(true, |v| v != "0"))
}

/// Off after the kernel refused a segmented message as unsupported (no UDP GSO there).
static GSO_REFUSED: AtomicBool = AtomicBool::new(false);

/// Whether this kernel has UDP segmentation offload (the `UDP_SEGMENT` socket option, Linux
/// 4.18): asked once, so a message refused later is that message's problem, not the feature's.
fn gso_supported() -> bool {
    static YES: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *YES.get_or_init(|| {
        let Ok(s) = std::net::UdpSocket::bind("127.0.0.1:0") else { return false };
        let size: libc::c_int = 1200;
        // SAFETY: a valid socket and an int option of the right size.
        unsafe { libc::setsockopt(std::os::fd::AsRawFd::as_raw_fd(&s), libc::SOL_UDP, UDP_SEGMENT, (&size as *const libc::c_int).cast(), std::mem::size_of::<libc::c_int>() as libc::socklen_t) == 0 }
    })
}

/// `FERROSOUP_GSO=0` never segments (for A/B benchmarks).
pub(crate) fn gso() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    batching() && *ON.get_or_init(|| std::env::var("FERROSOUP_GSO").map_or(true, |v| v != "0")) && gso_supported() && !GSO_REFUSED.load(Ordering::Relaxed)
}

/// Most messages one sendmmsg(2) carries: the kernel takes up to 1,024 (UIO_MAXIOV), but a
/// syscall of ~128 keeps each under ~1 ms, so the worker can look at requests between them
/// (see `flush`).
const MAX_BATCH: usize = 128;
/// And most datagrams: with segmentation a message carries several (a viewer's frame, ~6 at
/// 1.5 Mbit/s), and the kernel's time follows datagrams (~2 µs each over loopback, delivery
/// included): 256 keep a syscall well under 1 ms.
const MAX_BATCH_DATAGRAMS: usize = 256;
/// `UDP_SEGMENT` (linux/udp.h): the segment size of a message, as a control message.
const UDP_SEGMENT: libc::c_int = 103;
/// Most segments in one message (the kernel's UDP_MAX_SEGMENTS), and most bytes.
const MAX_SEGMENTS: usize = 64;
const MAX_GSO_BYTES: usize = 65_000;
/// Largest datagram segmented: the kernel refuses a segment longer than the path's MTU allows
/// (1,472 bytes of UDP over IPv4 at 1,500, 1,452 over IPv6); longer ones (an ingest sending
/// 1,472-byte packets, plus our extensions) go one to a message, and may be fragmented.
const MAX_SEGMENT: usize = 1_452;

/// One message: datagrams `start..end` of a socket's batch, cut into `segment`-byte datagrams
/// when there are several.
#[derive(Clone, Copy)]
struct Message {
    start: usize,
    end: usize,
    segment: u16,
}

/// Where datagrams `from..` of `batch` split into messages: runs to one destination of one
/// size, the last of a run possibly shorter.
fn messages(batch: &[(Rc<UdpSocket>, SocketAddr, Vec<u8>)], segmented: bool, out: &mut Vec<Message>) {
    out.clear();
    let mut i = 0;
    while i < batch.len() {
        let (to, size) = (batch[i].1, batch[i].2.len());
        let mut end = i + 1;
        let mut total = size;
        if segmented && size > 0 && size <= MAX_SEGMENT {
            while end < batch.len() && end - i < MAX_SEGMENTS {
                let (next_to, next) = (batch[end].1, batch[end].2.len());
                if next_to != to || next == 0 || next > size || total + next > MAX_GSO_BYTES {
                    break;
                }
                total += next;
                end += 1;
                if next < size {
                    break; // a shorter one ends the run
                }
            }
        }
        out.push(Message { start: i, end, segment: size as u16 });
        i = end;
    }
}

impl SendQueue {
    pub fn push(&mut self, sock: &Rc<UdpSocket>, to: SocketAddr, data: Vec<u8>) {
        self.items.push((sock.clone(), to, data));
    }

    /// An empty queue that reports this one's counters (as they are now): stands in for it
    /// while it is flushing.
    pub fn stand_in(&self) -> SendQueue {
        SendQueue { failures: self.failures, syscalls: self.syscalls, datagrams: self.datagrams, gso_messages: self.gso_messages, gso_datagrams: self.gso_datagrams, ..Default::default() }
    }

    /// Queues what `other` holds after what this queue holds (its counters are not kept:
    /// `other` only queued).
    pub fn take_from(&mut self, mut other: SendQueue) {
        self.items.append(&mut other.items);
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Sends everything queued, grouped by socket (and destination) in queue order; `between`
    /// runs after each send syscall (the worker looks at requests there, so a large fan-out's
    /// sends do not hold it: what it queues meanwhile goes to another `SendQueue`).
    pub fn flush(&mut self, between: &mut dyn FnMut()) {
        if self.items.is_empty() {
            return;
        }
        let mut items = std::mem::take(&mut self.items);
        if !batching() {
            for item in items.drain(..) {
                self.send_batch(std::slice::from_ref(&item), between);
            }
            self.items = items;
            return;
        }
        self.group(&mut items);
        let mut start = 0;
        while start < items.len() {
            let sock = &items[start].0;
            let end = start + items[start..].iter().take_while(|(s, _, _)| Rc::ptr_eq(s, sock)).count();
            self.send_batch(&items[start..end], between);
            start = end;
        }
        self.spent.extend(items.drain(..).map(|(_, _, d)| d));
        // Keep the allocation for the next turn.
        self.items = items;
    }

    /// Orders `items` by socket and destination, each one's datagrams in queue order. IPv4
    /// destinations (all but rare cases) sort as one integer each (socket, address, port,
    /// position): the comparison sort of the items themselves was ~3 % of the worker.
    fn group(&mut self, items: &mut [(Rc<UdpSocket>, SocketAddr, Vec<u8>)]) {
        const LOW_48: u64 = (1 << 48) - 1;
        let keyed = items.len() < u32::MAX as usize
            && items.iter().all(|(s, to, _)| to.is_ipv4() && Rc::as_ptr(s) as usize as u64 <= LOW_48);
        if !keyed {
            items.sort_by(|(a, to_a, _), (b, to_b, _)| (Rc::as_ptr(a) as usize, to_a).cmp(&(Rc::as_ptr(b) as usize, to_b)));
            return;
        }
        let (keys, dest) = (&mut self.keys, &mut self.dest);
        keys.clear();
        keys.extend(items.iter().enumerate().map(|(i, (s, to, _))| {
            let SocketAddr::V4(v4) = to else { unreachable!("checked above") };
            let sock = u128::from(Rc::as_ptr(s) as usize as u64);
            (sock << 80) | (u128::from(v4.ip().to_bits()) << 48) | (u128::from(v4.port()) << 32) | i as u128
        }));
        keys.sort_unstable();
        // Each datagram's place in the order, then swaps that put each where it goes.
        dest.clear();
        dest.resize(items.len(), 0);
        for (place, k) in keys.iter().enumerate() {
            dest[(*k as u32) as usize] = place as u32;
        }
        for i in 0..items.len() {
            while dest[i] as usize != i {
                let j = dest[i] as usize;
                items.swap(i, j);
                dest.swap(i, j);
            }
        }
    }

    /// The buffers of the datagrams sent since the last call.
    pub fn spent(&mut self) -> &mut Vec<Vec<u8>> {
        &mut self.spent
    }

    /// Datagrams of one socket.
    fn send_batch(&mut self, batch: &[(Rc<UdpSocket>, SocketAddr, Vec<u8>)], between: &mut dyn FnMut()) {
        let sock = &batch[0].0;
        if batch.len() == 1 {
            self.syscalls += 1;
            match sock.try_send_to(&batch[0].2, batch[0].1) {
                Ok(_) => self.datagrams += 1,
                Err(_) => self.failures += 1,
            }
            between();
            return;
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        self.send_messages(batch, &mut scratch, between);
        scratch.msgs.clear(); // their pointers are stale once the batch is gone
        self.scratch = scratch;
    }

    fn send_messages(&mut self, batch: &[(Rc<UdpSocket>, SocketAddr, Vec<u8>)], scratch: &mut Scratch, between: &mut dyn FnMut()) {
        let sock = &batch[0].0;
        let Scratch { plan, addrs, iovs, controls, msgs } = scratch;
        messages(batch, gso(), plan);
        let plan = &*plan;
        addrs.clear();
        addrs.extend(plan.iter().map(|m| socket2::SockAddr::from(batch[m.start].1)));
        iovs.clear();
        iovs.extend(batch.iter().map(|(_, _, d)| libc::iovec { iov_base: d.as_ptr() as *mut libc::c_void, iov_len: d.len() }));
        // One control buffer per message (aligned, room for one u16 control message).
        controls.clear();
        controls.resize(plan.len(), [0; 4]);
        msgs.clear();
        for ((m, addr), control) in plan.iter().zip(addrs.iter()).zip(controls.iter_mut()) {
            // SAFETY: an all-zero msghdr is valid; the pointers set below outlive the call.
            let mut h: libc::msghdr = unsafe { std::mem::zeroed() };
            h.msg_name = addr.as_ptr() as *mut libc::c_void;
            h.msg_namelen = addr.len();
            h.msg_iov = iovs[m.start..].as_mut_ptr();
            h.msg_iovlen = m.end - m.start;
            if m.end - m.start > 1 {
                h.msg_control = control.as_mut_ptr() as *mut libc::c_void;
                // SAFETY: CMSG_* compute sizes and positions inside `control` (32 bytes, more
                // than CMSG_SPACE(2)); the header and its u16 are written inside it.
                unsafe {
                    h.msg_controllen = libc::CMSG_SPACE(2) as usize;
                    let c = libc::CMSG_FIRSTHDR(&h);
                    (*c).cmsg_level = libc::SOL_UDP;
                    (*c).cmsg_type = UDP_SEGMENT;
                    (*c).cmsg_len = libc::CMSG_LEN(2) as usize;
                    std::ptr::write_unaligned(libc::CMSG_DATA(c) as *mut u16, m.segment);
                }
            }
            msgs.push(libc::mmsghdr { msg_hdr: h, msg_len: 0 });
        }
        let fd = std::os::fd::AsRawFd::as_raw_fd(&**sock);
        let count = |ms: &[Message]| ms.iter().map(|m| (m.end - m.start) as u64).sum::<u64>();
        let mut off = 0;
        while off < msgs.len() {
            self.syscalls += 1;
            // Messages up to MAX_BATCH and MAX_BATCH_DATAGRAMS (at least one).
            let mut n = 0;
            let mut datagrams = 0;
            while off + n < msgs.len() && n < MAX_BATCH {
                datagrams += plan[off + n].end - plan[off + n].start;
                if n > 0 && datagrams > MAX_BATCH_DATAGRAMS {
                    break;
                }
                n += 1;
            }
            // SAFETY: `msgs[off..off + n]` points at live iovecs, addresses and control buffers.
            let sent = unsafe { libc::sendmmsg(fd, msgs[off..].as_mut_ptr(), n as libc::c_uint, libc::MSG_DONTWAIT) };
            // errno first: the worker's look at requests may make syscalls of its own.
            let failed = (sent <= 0).then(io::Error::last_os_error);
            between();
            if sent > 0 {
                let done = &plan[off..off + sent as usize];
                self.datagrams += count(done);
                for m in done.iter().filter(|m| m.end - m.start > 1) {
                    self.gso_messages += 1;
                    self.gso_datagrams += (m.end - m.start) as u64;
                }
                off += sent as usize;
                continue;
            }
            let Some(err) = failed else { continue };
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            if err.kind() == io::ErrorKind::WouldBlock {
                // The socket buffer is full: the rest of this batch is lost, as with sendto.
                self.failures += count(&plan[off..]);
                return;
            }
            let m = plan[off];
            if m.end - m.start > 1 && matches!(err.raw_os_error(), Some(libc::EIO | libc::EINVAL | libc::EMSGSIZE | libc::ENOPROTOOPT | libc::EOPNOTSUPP)) {
                // This message's datagrams one by one. Not supported at all: never again; else
                // (a segment over this path's MTU, a route the offload cannot take, a socket
                // without checksums) only this message.
                if matches!(err.raw_os_error(), Some(libc::ENOPROTOOPT | libc::EOPNOTSUPP)) {
                    GSO_REFUSED.store(true, Ordering::Relaxed);
                }
                for (_, to, d) in &batch[m.start..m.end] {
                    self.syscalls += 1;
                    // The socket directly, as sendmmsg (the runtime's readiness is not asked).
                    let to = socket2::SockAddr::from(*to);
                    // SAFETY: a live buffer and address for the call's duration.
                    let sent = unsafe { libc::sendto(fd, d.as_ptr().cast(), d.len(), libc::MSG_DONTWAIT, to.as_ptr().cast(), to.len()) };
                    if sent >= 0 {
                        self.datagrams += 1;
                    } else {
                        self.failures += 1;
                    }
                }
            } else {
                // This message failed (e.g. ICMP unreachable pending): skip it, send the rest.
                self.failures += (m.end - m.start) as u64;
            }
            off += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn udp() -> Rc<UdpSocket> {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_nonblocking(true).unwrap();
        Rc::new(UdpSocket::from_std(s).unwrap())
    }

    #[tokio::test(flavor = "current_thread")]
    async fn grouping_keeps_queue_order_per_socket_and_destination() {
        let socks = [udp(), udp(), udp()];
        let to = |i: u32| -> SocketAddr { format!("127.0.{}.{}:{}", i % 3, i % 5, 4000 + i % 7).parse().unwrap() };
        let mut items: Vec<(Rc<UdpSocket>, SocketAddr, Vec<u8>)> = Vec::new();
        let mut x = 12345u32;
        for n in 0..3000u32 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            items.push((socks[(x >> 16) as usize % 3].clone(), to(x >> 8), n.to_be_bytes().to_vec()));
        }
        let mut expected = items.clone();
        expected.sort_by(|(a, to_a, _), (b, to_b, _)| (Rc::as_ptr(a) as usize, to_a).cmp(&(Rc::as_ptr(b) as usize, to_b)));
        let mut q = SendQueue::default();
        q.group(&mut items);
        let seen = |v: &[(Rc<UdpSocket>, SocketAddr, Vec<u8>)]| v.iter().map(|(s, to, d)| (Rc::as_ptr(s) as usize, *to, d.clone())).collect::<Vec<_>>();
        assert_eq!(seen(&items), seen(&expected));
        // With an IPv6 destination among them (the plain sort): each socket and destination's
        // datagrams together, in queue order.
        items.push((socks[0].clone(), "[::1]:5000".parse().unwrap(), 3000u32.to_be_bytes().to_vec()));
        items.sort_by_key(|(_, _, d)| u32::from_be_bytes([d[0], d[1], d[2], d[3]]) * 7919 % 3001);
        q.group(&mut items);
        let mut groups: Vec<(usize, SocketAddr)> = Vec::new();
        let mut last: std::collections::HashMap<(usize, SocketAddr), u32> = Default::default();
        for (sock, to, d) in &items {
            let g = (Rc::as_ptr(sock) as usize, *to);
            if groups.last() != Some(&g) {
                assert!(!groups.contains(&g), "{g:?} in two places");
                groups.push(g);
            }
            let place = u32::from_be_bytes([d[0], d[1], d[2], d[3]]) * 7919 % 3001;
            assert!(last.insert(g, place).is_none_or(|before| before < place), "order kept within {g:?}");
        }
        assert!(groups.iter().any(|(_, to)| to.is_ipv6()));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn queued_datagrams_leave_in_order_one_syscall_per_socket() {
        let (a, b) = (udp(), udp());
        // Receivers read with plain std sockets (no reactor needed).
        let std_udp = || {
            let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            s.set_nonblocking(true).unwrap();
            s
        };
        let (x, y) = (std_udp(), std_udp());
        let (xa, ya) = (x.local_addr().unwrap(), y.local_addr().unwrap());
        let mut q = SendQueue::default();
        for i in 0..5u8 {
            q.push(&a, xa, vec![b'a', i]);
            q.push(&b, xa, vec![b'b', i]);
            q.push(&a, ya, vec![b'a', i]);
        }
        q.flush(&mut || {});
        assert!(q.is_empty());
        assert_eq!(q.datagrams, 15);
        if batching() {
            assert_eq!(q.syscalls, 2, "one sendmmsg for a, one for b");
        }
        if gso() {
            // a's five to x, b's five to x and a's five to y: one segmented message each.
            assert_eq!((q.gso_messages, q.gso_datagrams), (3, 15));
        }
        let recv_all = |s: &std::net::UdpSocket| {
            let mut got = Vec::new();
            let mut buf = [0u8; 16];
            while let Ok((n, from)) = s.recv_from(&mut buf) {
                got.push((from, buf[..n].to_vec()));
            }
            got
        };
        let at_x = recv_all(&x);
        let from = |s: &Rc<UdpSocket>| s.local_addr().unwrap();
        let seq = |got: &[(SocketAddr, Vec<u8>)], src: SocketAddr| got.iter().filter(|(f, _)| *f == src).map(|(_, d)| d[1]).collect::<Vec<_>>();
        assert_eq!(seq(&at_x, from(&a)), vec![0, 1, 2, 3, 4]);
        assert_eq!(seq(&at_x, from(&b)), vec![0, 1, 2, 3, 4]);
        assert_eq!(seq(&recv_all(&y), from(&a)), vec![0, 1, 2, 3, 4]);
        // A destination that cannot take the datagram (port 0) fails alone; the rest go out.
        q.push(&a, SocketAddr::new(xa.ip(), 0), vec![1]);
        q.push(&a, xa, vec![b'a', 9]);
        q.flush(&mut || {});
        assert_eq!(q.failures, 1);
        assert_eq!(seq(&recv_all(&x), from(&a)), vec![9]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn datagrams_longer_than_a_path_allows_are_not_segmented() {
        let a = udp();
        let to: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let runs = |size: usize| {
            let batch: Vec<_> = (0..4).map(|_| (a.clone(), to, vec![0u8; size])).collect();
            let mut plan = Vec::new();
            messages(&batch, true, &mut plan);
            plan.iter().map(|m| m.end - m.start).collect::<Vec<_>>()
        };
        assert_eq!(runs(MAX_SEGMENT), vec![4]);
        assert_eq!(runs(MAX_SEGMENT + 1), vec![1, 1, 1, 1]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_message_the_kernel_refuses_to_segment_goes_one_datagram_at_a_time() {
        if !gso() {
            return;
        }
        // A socket without UDP checksums cannot segment (EINVAL): its datagrams still arrive,
        // in order, and segmentation stays on for everything else.
        let a = udp();
        let one: libc::c_int = 1;
        // SAFETY: a valid socket and an int option of the right size.
        let r = unsafe { libc::setsockopt(std::os::fd::AsRawFd::as_raw_fd(&*a), libc::SOL_SOCKET, libc::SO_NO_CHECK, (&one as *const libc::c_int).cast(), std::mem::size_of::<libc::c_int>() as libc::socklen_t) };
        assert_eq!(r, 0);
        let x = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        x.set_nonblocking(true).unwrap();
        let mut q = SendQueue::default();
        for i in 0..5u8 {
            q.push(&a, x.local_addr().unwrap(), vec![i; 100]);
        }
        q.flush(&mut || {});
        assert_eq!((q.datagrams, q.failures, q.gso_messages), (5, 0, 0));
        let mut got = Vec::new();
        let mut buf = [0u8; 200];
        while let Ok(n) = x.recv(&mut buf) {
            got.push((n, buf[0]));
        }
        assert_eq!(got, (0..5u8).map(|i| (100, i)).collect::<Vec<_>>());
        assert!(gso(), "still on");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn segmented_messages_are_batched_by_their_datagrams() {
        let a = udp();
        let x = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = x.local_addr().unwrap().port();
        // 64 destinations, 8 datagrams of one size each: 64 segmented messages, 512 datagrams.
        let mut q = SendQueue::default();
        for i in 0..64u16 {
            for _ in 0..8 {
                q.push(&a, SocketAddr::from(([127, 0, 0, 1], port.wrapping_add(i))), vec![7; 100]);
            }
        }
        q.flush(&mut || {});
        assert_eq!(q.datagrams + q.failures, 512);
        if gso() {
            assert_eq!(q.gso_messages, 64);
            assert_eq!(q.syscalls, 2, "at most MAX_BATCH_DATAGRAMS datagrams a syscall");
        } else if batching() {
            assert_eq!(q.syscalls, 4, "at most MAX_BATCH messages a syscall");
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_large_batch_leaves_in_several_syscalls_with_a_look_between_each() {
        let a = udp();
        let x = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = x.local_addr().unwrap().port();
        // Datagrams to distinct destinations (ports around x's; most have no listener, which
        // loopback UDP does not report at send time): one message each.
        let n = MAX_BATCH * 2 + 10;
        let mut q = SendQueue::default();
        for i in 0..n {
            q.push(&a, SocketAddr::from(([127, 0, 0, 1], port.wrapping_add(i as u16))), vec![1, 2, 3]);
        }
        let mut looks = 0;
        q.flush(&mut || looks += 1);
        if batching() {
            assert_eq!(q.syscalls, 3, "at most MAX_BATCH messages a syscall");
            assert_eq!(looks, 3, "the worker may look at requests after each");
        }
        assert_eq!(q.datagrams + q.failures, n as u64);
    }

    #[test]
    fn runs_to_one_destination_of_one_size_make_one_message() {
        let s = Rc::new({
            let std = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            std.set_nonblocking(true).unwrap();
            let rt = tokio::runtime::Builder::new_current_thread().enable_io().build().unwrap();
            let _g = rt.enter();
            UdpSocket::from_std(std).unwrap()
        });
        let (x, y): (SocketAddr, SocketAddr) = ("127.0.0.1:1000".parse().unwrap(), "127.0.0.1:1001".parse().unwrap());
        let batch: Vec<_> = [(x, 100), (x, 100), (x, 100), (x, 60), (x, 100), (x, 101), (y, 100), (y, 100)]
            .into_iter()
            .chain(std::iter::repeat_n((y, 1000), 70))
            .map(|(to, n)| (s.clone(), to, vec![0u8; n]))
            .collect();
        let mut plan = Vec::new();
        messages(&batch, true, &mut plan);
        let runs: Vec<(usize, u16)> = plan.iter().map(|m| (m.end - m.start, m.segment)).collect();
        // Three of 100 and a shorter last; a longer one starts anew; the next destination;
        // then at most 64 segments (and 65,000 bytes) a message.
        assert_eq!(runs, vec![(4, 100), (1, 100), (1, 101), (2, 100), (64, 1000), (6, 1000)]);
        messages(&batch, false, &mut plan);
        assert!(plan.iter().all(|m| m.end - m.start == 1));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn segmented_messages_arrive_as_the_datagrams_they_carry() {
        let a = udp();
        let x = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        x.set_nonblocking(true).unwrap();
        let xa = x.local_addr().unwrap();
        let mut q = SendQueue::default();
        let sizes = [1200usize, 1200, 1200, 1200, 700, 130];
        for (i, n) in sizes.iter().enumerate() {
            q.push(&a, xa, vec![i as u8; *n]);
        }
        q.flush(&mut || {});
        assert_eq!((q.datagrams, q.failures), (6, 0));
        let mut got = Vec::new();
        let mut buf = [0u8; 2000];
        while let Ok(n) = x.recv(&mut buf) {
            got.push((n, buf[0]));
        }
        assert_eq!(got, sizes.iter().enumerate().map(|(i, n)| (*n, i as u8)).collect::<Vec<_>>(), "each datagram whole, in order");
        if gso() {
            assert_eq!((q.gso_messages, q.gso_datagrams), (1, 5), "1200 x4 + 700 as one; then 130 alone");
        }
    }
}
