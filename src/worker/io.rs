//! Sockets on the worker's event loop: binding in the configured port ranges, one reader task per
//! UDP socket, TCP listeners with RFC 4571 framing (2-byte length prefix) per connection.
//!
//! Readers hand each datagram to the worker synchronously (same thread); sends are non-blocking
//! (`try_send_to`; TCP frames go through a per-connection writer task).

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

/// A transport's sockets and the tasks serving them. Dropping it (after `abort`) frees the ports.
#[derive(Default)]
pub struct TransportIo {
    udp: Vec<(SocketAddr, Rc<UdpSocket>)>,
    tcp_conns: HashMap<(SocketAddr, SocketAddr), mpsc::UnboundedSender<Vec<u8>>>,
    tasks: Vec<AbortHandle>,
    /// Datagrams that could not be sent (socket buffer full, TCP peer gone).
    pub send_failures: u64,
}

impl TransportIo {
    pub fn send(&mut self, tuple: &Tuple, data: &[u8]) {
        match tuple.protocol {
            Protocol::Udp => {
                let Some((_, sock)) = self.udp.iter().find(|(a, _)| *a == tuple.local) else {
                    self.send_failures += 1;
                    return;
                };
                if sock.try_send_to(data, tuple.remote).is_err() {
                    self.send_failures += 1;
                }
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
                frame.extend_from_slice(data);
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
) -> io::Result<(Vec<LocalSocket>, TransportIo)> {
    let mut io = TransportIo::default();
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
        // Drain what else is queued without going back to the scheduler.
        for _ in 0..64 {
            match sock.try_recv_from(&mut buf) {
                Ok((n, from)) => {
                    let tuple = Tuple { protocol: Protocol::Udp, local, remote: from };
                    Worker::guarded(&w, |w| w.on_datagram(&id, tuple, &buf[..n]));
                }
                Err(_) => break,
            }
        }
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
                Worker::guarded(&w, |w| w.on_datagram(&id2, tuple, &buf[..n]));
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
