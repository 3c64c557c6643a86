//! The worker's sockets: bound as the engine asks (`Output::Bind`), each named by a `SocketId`,
//! with a reader task per UDP socket and TCP connection and an acceptor per TCP listener. What
//! they read is fed to the engine through the runtime; what the engine transmits goes out
//! through the send queue (UDP) or a connection's bounded writer (TCP, RFC 4571 framed).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;

use ferrosoup_sfu::engine::{BindSpec, BoundSocket};
use ferrosoup_sfu::net::{framing, Protocol, SocketId};
use ferrosoup_sfu::transport::listen::ListenInfo;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

/// Frames one TCP connection may have waiting to be written; beyond it frames are dropped (a
/// viewer that stops reading must not grow our memory).
pub const TCP_WRITE_QUEUE: usize = 512;

pub enum Socket {
    Udp { sock: Rc<UdpSocket>, task: AbortHandle },
    TcpListener { task: AbortHandle },
    TcpConn { writer: mpsc::Sender<Vec<u8>>, tasks: [AbortHandle; 2] },
}

impl Socket {
    fn abort(&self) {
        match self {
            Socket::Udp { task, .. } | Socket::TcpListener { task } => task.abort(),
            Socket::TcpConn { tasks, .. } => tasks.iter().for_each(AbortHandle::abort),
        }
    }
}

#[derive(Default)]
pub struct Sockets {
    map: HashMap<SocketId, Socket>,
    next: u32,
    /// TCP frames dropped because a connection's write queue was full, or too large to frame.
    pub tcp_dropped: u64,
    /// Sockets closed so far (their tasks are dropped at the event loop's next turn).
    pub closed: u64,
}

impl Sockets {
    pub fn next_id(&mut self) -> SocketId {
        self.next += 1;
        SocketId(self.next)
    }

    pub fn insert(&mut self, id: SocketId, s: Socket) {
        self.map.insert(id, s);
    }

    pub fn get(&self, id: SocketId) -> Option<&Socket> {
        self.map.get(&id)
    }

    /// Closes a socket: its tasks stop, and the port is free once they are dropped (at the
    /// event loop's next turn).
    pub fn close(&mut self, id: SocketId) {
        if let Some(s) = self.map.remove(&id) {
            s.abort();
            self.closed += 1;
        }
    }

    pub fn close_all(&mut self) {
        for (_, s) in self.map.drain() {
            s.abort();
        }
    }

    /// Queues a frame on a TCP connection (dropped and counted if its queue is full).
    pub fn send_tcp(&mut self, id: SocketId, data: &[u8]) -> bool {
        let Some(Socket::TcpConn { writer, .. }) = self.map.get(&id) else { return false };
        let Some(frame) = framing::frame(data) else {
            self.tcp_dropped += 1;
            return false;
        };
        if writer.try_send(frame).is_err() {
            self.tcp_dropped += 1;
            return false;
        }
        true
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Binds `bind` on the given port, or on a free port of the range starting at `start`. Errors
/// read as mediasoup's worker words them (apps match on them).
fn bind_in_range<S>(spec: &BindSpec, mut bind: impl FnMut(SocketAddr) -> io::Result<S>) -> Result<S, String> {
    let info = &spec.info;
    let proto = info.protocol.name();
    let ip = info.ip;
    let reason = |e: &io::Error| match e.kind() {
        io::ErrorKind::AddrInUse => "address already in use".to_string(),
        io::ErrorKind::AddrNotAvailable => "address not available".to_string(),
        _ => e.to_string(),
    };
    if let Some(port) = info.port {
        let call = if info.protocol == Protocol::Udp { "uv_udp_bind()" } else { "uv_listen()" };
        return bind(SocketAddr::new(ip, port)).map_err(|e| format!("{call} failed [protocol:{proto}, ip:'{ip}', port:{port}]: {}", reason(&e)));
    }
    let (min, max) = spec.port_range;
    let span = u32::from(max - min) + 1;
    for i in 0..span {
        let port = min + ((spec.start.wrapping_add(i)) % span) as u16;
        match bind(SocketAddr::new(ip, port)) {
            Ok(s) => return Ok(s),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => {}
            Err(e) => {
                let what = match e.raw_os_error() {
                    Some(24) => "too many open files".to_string(), // EMFILE
                    _ => reason(&e),
                };
                return Err(format!("port bind failed due to {what} [protocol:{proto}, ip:'{ip}', port:{port}, attempt:{}/{span}]", i + 1));
            }
        }
    }
    Err(format!("no more available ports [protocol:{proto}, ip:'{ip}', numAttempt:{span}]"))
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

/// A bound socket before its tasks start.
pub enum Opened {
    Udp(Rc<UdpSocket>),
    Tcp(TcpListener),
}

/// Binds every socket of `specs`; on error nothing stays bound.
pub fn bind_all(specs: &[BindSpec]) -> Result<Vec<(Opened, Protocol, SocketAddr)>, String> {
    let mut out = Vec::new();
    for spec in specs {
        match spec.info.protocol {
            Protocol::Udp => {
                let std_sock = bind_in_range(spec, |addr| {
                    let s = socket2_for(&spec.info, socket2::Type::DGRAM)?;
                    s.bind(&addr.into())?;
                    Ok(std::net::UdpSocket::from(s))
                })?;
                let local = std_sock.local_addr().map_err(|e| e.to_string())?;
                out.push((Opened::Udp(Rc::new(UdpSocket::from_std(std_sock).map_err(|e| e.to_string())?)), Protocol::Udp, local));
            }
            Protocol::Tcp => {
                let std_listener = bind_in_range(spec, |addr| {
                    let s = socket2_for(&spec.info, socket2::Type::STREAM)?;
                    s.set_reuse_address(true)?;
                    s.bind(&addr.into())?;
                    s.listen(256)?;
                    Ok(std::net::TcpListener::from(s))
                })?;
                let local = std_listener.local_addr().map_err(|e| e.to_string())?;
                out.push((Opened::Tcp(TcpListener::from_std(std_listener).map_err(|e| e.to_string())?), Protocol::Tcp, local));
            }
        }
    }
    Ok(out)
}

/// What the engine hears about a socket it got.
pub fn bound(id: SocketId, protocol: Protocol, local: SocketAddr) -> BoundSocket {
    BoundSocket { id, protocol, local }
}
