//! UDP sends of one worker turn, batched: datagrams are queued for the rest of the turn and
//! then leave per socket with one `sendmmsg(2)` (a video frame's packets to one viewer: one
//! syscall, not five).

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;

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
}

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
