//! Sockets on the worker's event loop: binding in the configured port ranges, one reader task per
//! UDP socket, TCP listeners with RFC 4571 framing (2-byte length prefix) per connection.
//!
//! Readers hand each datagram to the worker synchronously (same thread). UDP sends are queued
//! for the rest of the worker's turn and then leave per socket with one `sendmmsg(2)` (a video
//! frame's packets to one viewer: one syscall, not five); TCP frames go through a
//! per-connection writer task.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::rc::{Rc, Weak};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use super::Worker;
use crate::ice::{Protocol, Tuple};
use crate::transport::{ListenInfo, LocalSocket};

/// Datagrams queued during one turn of the worker, sent by [`SendQueue::flush`].
#[derive(Default)]
pub struct SendQueue {
    items: Vec<(Rc<UdpSocket>, SocketAddr, Vec<u8>)>,
    /// Datagrams the kernel refused (socket buffer full, unreachable...).
    pub failures: u64,
    /// Send syscalls made and datagrams sent, for benchmarks.
    pub syscalls: u64,
    pub datagrams: u64,
}

pub type SharedSendQueue = Rc<RefCell<SendQueue>>;

/// `FERROSOUP_SENDMMSG=0` sends each datagram with its own sendto(2) (for A/B benchmarks).
fn batching() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("FERROSOUP_SENDMMSG").map_or(true, |v| v != "0"))
}

/// Most messages one sendmmsg(2) takes (UIO_MAXIOV).
const MAX_BATCH: usize = 1024;

impl SendQueue {
    pub fn push(&mut self, sock: &Rc<UdpSocket>, to: SocketAddr, data: Vec<u8>) {
        self.items.push((sock.clone(), to, data));
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Sends everything queued, grouped by socket in queue order.
    pub fn flush(&mut self) {
        if self.items.is_empty() {
            return;
        }
        let mut items = std::mem::take(&mut self.items);
        if !batching() {
            for item in items.drain(..) {
                self.send_batch(std::slice::from_ref(&item));
            }
            self.items = items;
            return;
        }
        // Stable: each socket's datagrams keep their order.
        items.sort_by_key(|(sock, _, _)| Rc::as_ptr(sock) as usize);
        let mut start = 0;
        while start < items.len() {
            let sock = &items[start].0;
            let end = start + items[start..].iter().take_while(|(s, _, _)| Rc::ptr_eq(s, sock)).count();
            for chunk in items[start..end].chunks(MAX_BATCH) {
                self.send_batch(chunk);
            }
            start = end;
        }
        items.clear();
        // Keep the allocation for the next turn.
        self.items = items;
    }

    fn send_batch(&mut self, batch: &[(Rc<UdpSocket>, SocketAddr, Vec<u8>)]) {
        let sock = &batch[0].0;
        if batch.len() == 1 {
            self.syscalls += 1;
            match sock.try_send_to(&batch[0].2, batch[0].1) {
                Ok(_) => self.datagrams += 1,
                Err(_) => self.failures += 1,
            }
            return;
        }
        let addrs: Vec<socket2::SockAddr> = batch.iter().map(|(_, to, _)| socket2::SockAddr::from(*to)).collect();
        let mut iovs: Vec<libc::iovec> = batch
            .iter()
            .map(|(_, _, d)| libc::iovec { iov_base: d.as_ptr() as *mut libc::c_void, iov_len: d.len() })
            .collect();
        let mut msgs: Vec<libc::mmsghdr> = iovs
            .iter_mut()
            .zip(&addrs)
            .map(|(iov, addr)| {
                // SAFETY: an all-zero msghdr is valid; the pointers set below outlive the call.
                let mut h: libc::msghdr = unsafe { std::mem::zeroed() };
                h.msg_name = addr.as_ptr() as *mut libc::c_void;
                h.msg_namelen = addr.len();
                h.msg_iov = iov as *mut libc::iovec;
                h.msg_iovlen = 1;
                libc::mmsghdr { msg_hdr: h, msg_len: 0 }
            })
            .collect();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&**sock);
        let mut off = 0;
        while off < msgs.len() {
            self.syscalls += 1;
            // SAFETY: `msgs[off..]` points at live iovecs and addresses built above.
            let n = unsafe { libc::sendmmsg(fd, msgs[off..].as_mut_ptr(), (msgs.len() - off) as libc::c_uint, libc::MSG_DONTWAIT) };
            if n > 0 {
                off += n as usize;
                self.datagrams += n as u64;
                continue;
            }
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            if err.kind() == io::ErrorKind::WouldBlock {
                // The socket buffer is full: the rest of this batch is lost, as with sendto.
                self.failures += (msgs.len() - off) as u64;
                return;
            }
            // This datagram failed (e.g. ICMP unreachable pending): skip it, send the rest.
            self.failures += 1;
            off += 1;
        }
    }
}

/// A transport's sockets and the tasks serving them. Dropping it (after `abort`) frees the ports.
#[derive(Default)]
pub struct TransportIo {
    udp: Vec<(SocketAddr, Rc<UdpSocket>)>,
    tcp_conns: HashMap<(SocketAddr, SocketAddr), mpsc::UnboundedSender<Vec<u8>>>,
    tasks: Vec<AbortHandle>,
    /// The worker's queue for UDP sends.
    out: SharedSendQueue,
    /// Datagrams that could not be queued (no such socket, TCP peer gone).
    pub send_failures: u64,
}

impl TransportIo {
    pub fn send(&mut self, tuple: &Tuple, data: Vec<u8>) {
        match tuple.protocol {
            Protocol::Udp => {
                let Some((_, sock)) = self.udp.iter().find(|(a, _)| *a == tuple.local) else {
                    self.send_failures += 1;
                    return;
                };
                self.out.borrow_mut().push(sock, tuple.remote, data);
            }
            Protocol::Tcp => {
                let Some(tx) = self.tcp_conns.get(&(tuple.local, tuple.remote)) else {
                    self.send_failures += 1;
                    return;
                };
                if data.len() > u16::MAX as usize {
                    self.send_failures += 1;
                    return;
                }
                let mut frame = Vec::with_capacity(2 + data.len());
                frame.extend_from_slice(&(data.len() as u16).to_be_bytes());
                frame.extend_from_slice(&data);
                if tx.send(frame).is_err() {
                    self.send_failures += 1;
                }
            }
        }
    }

    pub fn add_tcp_conn(&mut self, local: SocketAddr, remote: SocketAddr, tx: mpsc::UnboundedSender<Vec<u8>>) {
        self.tcp_conns.insert((local, remote), tx);
    }

    pub fn remove_tcp_conn(&mut self, local: SocketAddr, remote: SocketAddr) {
        self.tcp_conns.remove(&(local, remote));
    }

    pub fn add_task(&mut self, h: AbortHandle) {
        self.tasks.push(h);
    }

    /// Stops every task; the sockets close when the tasks and this value are dropped.
    pub fn abort(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
        self.tcp_conns.clear();
        self.udp.clear();
    }
}


/// Binds `bind` on the given port, or on a free port of the range starting at a random one.
fn bind_in_range<S>(
    info: &ListenInfo,
    worker_range: (u16, u16),
    mut bind: impl FnMut(SocketAddr) -> io::Result<S>,
) -> io::Result<S> {
    if let Some(port) = info.port {
        return bind(SocketAddr::new(info.ip, port));
    }
    let (min, max) = info.port_range.unwrap_or(worker_range);
    let span = u32::from(max - min) + 1;
    let start = crate::ice::random_u32() % span;
    let mut last = io::Error::new(io::ErrorKind::AddrInUse, "no port available");
    for i in 0..span {
        let port = min + ((start + i) % span) as u16;
        match bind(SocketAddr::new(info.ip, port)) {
            Ok(s) => return Ok(s),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(last.kind(), format!("no free port in {min}-{max} on {}", info.ip)))
}

fn socket2_for(info: &ListenInfo, ty: socket2::Type) -> io::Result<socket2::Socket> {
    let domain = if info.ip.is_ipv4() { socket2::Domain::IPV4 } else { socket2::Domain::IPV6 };
    let s = socket2::Socket::new(domain, ty, None)?;
    if let Some(n) = info.send_buffer_size {
        s.set_send_buffer_size(n)?;
    }
    if let Some(n) = info.recv_buffer_size {
        s.set_recv_buffer_size(n)?;
    }
    s.set_nonblocking(true)?;
    Ok(s)
}

/// Binds the sockets for `infos` and starts their reader tasks. On error nothing stays bound.
pub fn open(
    worker: &Weak<RefCell<Worker>>,
    transport_id: &Rc<str>,
    infos: &[ListenInfo],
    worker_range: (u16, u16),
    out: &SharedSendQueue,
) -> io::Result<(Vec<LocalSocket>, TransportIo)> {
    let mut io = TransportIo { out: out.clone(), ..Default::default() };
    let mut locals = Vec::new();
    let result = (|| {
        for info in infos {
            match info.protocol {
                Protocol::Udp => {
                    let std_sock = bind_in_range(info, worker_range, |addr| {
                        let s = socket2_for(info, socket2::Type::DGRAM)?;
                        s.bind(&addr.into())?;
                        Ok(std::net::UdpSocket::from(s))
                    })?;
                    let local = std_sock.local_addr()?;
                    let sock = Rc::new(UdpSocket::from_std(std_sock)?);
                    let task = tokio::task::spawn_local(udp_reader(
                        worker.clone(),
                        transport_id.clone(),
                        sock.clone(),
                        local,
                    ));
                    io.tasks.push(task.abort_handle());
                    io.udp.push((local, sock));
                    locals.push(LocalSocket {
                        protocol: Protocol::Udp,
                        local,
                        announced_address: info.announced_address.clone(),
                    });
                }
                Protocol::Tcp => {
                    let std_listener = bind_in_range(info, worker_range, |addr| {
                        let s = socket2_for(info, socket2::Type::STREAM)?;
                        s.set_reuse_address(true)?;
                        s.bind(&addr.into())?;
                        s.listen(256)?;
                        Ok(std::net::TcpListener::from(s))
                    })?;
                    let local = std_listener.local_addr()?;
                    let listener = TcpListener::from_std(std_listener)?;
                    let task = tokio::task::spawn_local(tcp_acceptor(
                        worker.clone(),
                        transport_id.clone(),
                        listener,
                        local,
                    ));
                    io.tasks.push(task.abort_handle());
                    locals.push(LocalSocket {
                        protocol: Protocol::Tcp,
                        local,
                        announced_address: info.announced_address.clone(),
                    });
                }
            }
        }
        Ok(())
    })();
    match result {
        Ok(()) => Ok((locals, io)),
        Err(e) => {
            io.abort();
            Err(e)
        }
    }
}

/// How long one reader turn may drain its socket before the next datagram waits for a new turn.
const READER_SLICE: std::time::Duration = std::time::Duration::from_millis(20);

async fn udp_reader(worker: Weak<RefCell<Worker>>, id: Rc<str>, sock: Rc<UdpSocket>, local: SocketAddr) {
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, from) = match sock.recv_from(&mut buf).await {
            Ok(r) => r,
            // Transient errors (e.g. ICMP-induced) must not end the reader.
            Err(_) => continue,
        };
        let Some(w) = worker.upgrade() else { return };
        let tuple = Tuple { protocol: Protocol::Udp, local, remote: from };
        Worker::guarded(&w, |w| w.on_datagram(&id, tuple, &buf[..n]));
        // Drain what else is queued without going back to the scheduler, for a bounded time.
        let started = std::time::Instant::now();
        for _ in 0..64 {
            if started.elapsed() >= READER_SLICE {
                break;
            }
            match sock.try_recv_from(&mut buf) {
                Ok((n, from)) => {
                    let tuple = Tuple { protocol: Protocol::Udp, local, remote: from };
                    Worker::guarded(&w, |w| w.on_datagram(&id, tuple, &buf[..n]));
                }
                Err(_) => break,
            }
        }
        // What this batch made the worker send leaves now, batched per socket.
        Worker::guarded(&w, |w| w.flush_sends());
        drop(w);
        // A socket that never runs dry (a saturated worker) must not keep the thread: tokio's
        // budget would let this loop run ~128 batches (tens of seconds at full fan-out) before
        // requests, timers and other sockets get a turn.
        tokio::task::yield_now().await;
    }
}

async fn tcp_acceptor(worker: Weak<RefCell<Worker>>, id: Rc<str>, listener: TcpListener, local: SocketAddr) {
    loop {
        let Ok((stream, remote)) = listener.accept().await else { continue };
        let _ = stream.set_nodelay(true);
        let Some(w) = worker.upgrade() else { return };
        let (mut reader, mut writer) = stream.into_split();
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        let write_task = tokio::task::spawn_local(async move {
            while let Some(frame) = rx.recv().await {
                if writer.write_all(&frame).await.is_err() {
                    break;
                }
            }
        });
        let worker2 = worker.clone();
        let id2 = id.clone();
        let read_task = tokio::task::spawn_local(async move {
            let tuple = Tuple { protocol: Protocol::Tcp, local, remote };
            let mut buf = vec![0u8; 65536];
            loop {
                let mut len = [0u8; 2];
                if reader.read_exact(&mut len).await.is_err() {
                    break;
                }
                let n = u16::from_be_bytes(len) as usize;
                if reader.read_exact(&mut buf[..n]).await.is_err() {
                    break;
                }
                let Some(w) = worker2.upgrade() else { return };
                Worker::guarded(&w, |w| {
                    w.on_datagram(&id2, tuple, &buf[..n]);
                    w.flush_sends();
                });
                drop(w);
                // As for UDP: a busy connection must not keep the thread (see udp_reader).
                tokio::task::yield_now().await;
            }
            if let Some(w) = worker2.upgrade() {
                Worker::guarded(&w, |w| w.on_tcp_closed(&id2, tuple));
            }
        });
        let mut w = w.borrow_mut();
        if !w.register_tcp_conn(&id, local, remote, tx, [write_task.abort_handle(), read_task.abort_handle()]) {
            write_task.abort();
            read_task.abort();
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
        q.flush();
        assert!(q.is_empty());
        assert_eq!(q.datagrams, 15);
        if batching() {
            assert_eq!(q.syscalls, 2, "one sendmmsg for a, one for b");
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
        q.flush();
        assert_eq!(q.failures, 1);
        assert_eq!(seq(&recv_all(&x), from(&a)), vec![9]);
    }
}
