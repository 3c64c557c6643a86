//! What goes into an [`Engine`](super::Engine) and what comes out.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;

use crate::api::{ApiError, Reply, Request};
use crate::log::LogLine;
use crate::net::dtls::HandshakeJob;
use crate::net::{Protocol, SocketId, Transmit};
use crate::transport::TransportKey;
use crate::transport::listen::ListenInfo;

#[derive(Debug)]
pub enum Input<'a> {
    /// A request from the app.
    Request(Request),
    /// A UDP datagram, or one RFC 4571 frame of a TCP connection (`socket` is the connection).
    Datagram { socket: SocketId, from: SocketAddr, data: &'a [u8] },
    /// The runtime accepted a TCP connection on a listening socket of ours.
    TcpAccepted { listener: SocketId, conn: SocketId, remote: SocketAddr },
    /// A TCP connection closed (by the peer, an error, or after `Output::CloseSocket`).
    TcpClosed { conn: SocketId },
    /// The answer to an `Output::Bind`.
    Bound { token: BindToken, result: Result<Vec<BoundSocket>, String> },
    /// Media from a pipe transport on another worker of this process.
    Pipe(PipeMessage),
    /// Time passed: fire what is due.
    Timeout,
    /// Go on with a packet's fan-out (while `Engine::has_more()`).
    Resume,
    /// An `Output::Handshake` after its `run()`.
    HandshakeDone(HandshakeWork),
}

#[derive(Debug, PartialEq)]
pub enum Output {
    Transmit(Transmit),
    /// The answer to the request with this id.
    Reply { id: u32, result: Result<Reply, ApiError> },
    /// A notification for the app's object `target`.
    Event(Event),
    Log(LogLine),
    /// Media for a pipe transport on another worker of this process.
    Pipe { worker: u32, message: PipeMessage },
    /// Open sockets as described; answer with `Input::Bound` (a request waits for it).
    Bind { token: BindToken, sockets: Vec<BindSpec> },
    /// The socket is no longer used (its transport closed): close it.
    CloseSocket(SocketId),
    /// DTLS handshake work: `run()` it (on any thread), then give it back as
    /// `Input::HandshakeDone`. Only with `Engine::set_handshake_offload`.
    Handshake(HandshakeWork),
    /// Nothing more to do until this time (`None`: until the next input).
    Timeout(Option<Instant>),
}

/// A transport's DTLS handshake reads, off the engine's thread while they run.
#[derive(Debug, PartialEq)]
pub struct HandshakeWork {
    pub(crate) transport: TransportKey,
    /// Boxed: outputs stay small (the DTLS endpoint is large).
    pub(crate) job: Box<HandshakeJob>,
}

impl HandshakeWork {
    /// Does the work (ECDHE, signatures): a fraction of a millisecond.
    pub fn run(&mut self) {
        self.job.run();
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub target: Arc<str>,
    pub name: &'static str,
    pub data: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PipeMessage {
    /// The receiving pipe transport (on the other worker).
    pub transport: Arc<str>,
    pub data: Vec<u8>,
    pub kind: PipeKind,
}

/// What a pipe message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PipeKind {
    Rtp,
    Rtcp,
    /// A data message (subchannels header in front, as over an SCTP pipe) on `stream`.
    Data { stream: u16, ppid: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BindToken(pub u64);

/// One socket to open: as the listen info says, in `port_range` when it names no port, trying
/// ports from the one at `start` (mod the range) on.
#[derive(Debug, Clone, PartialEq)]
pub struct BindSpec {
    pub info: ListenInfo,
    pub port_range: (u16, u16),
    pub start: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoundSocket {
    pub id: SocketId,
    pub protocol: Protocol,
    pub local: SocketAddr,
}

/// Where components put what the engine hands out.
#[derive(Default)]
pub struct Outbox {
    queue: VecDeque<Output>,
    /// Datagram buffers the runtime gave back after sending them, for the next packets written
    /// (a forwarded packet is one buffer per viewer: not one allocation each).
    spare: Vec<Vec<u8>>,
    /// See `EngineConfig::video_padding`.
    pub video_padding: u8,
}

/// Most buffers kept for reuse (~1.5 KiB each).
const SPARE_BUFFERS: usize = 1024;

impl Outbox {
    /// An outbox whose consumers pad video to a multiple of `multiple` bytes (see
    /// `EngineConfig::video_padding`).
    pub fn padding_video(multiple: u8) -> Self {
        Outbox { video_padding: multiple, ..Outbox::default() }
    }

    /// An empty buffer, reused if one is spare.
    pub fn buffer(&mut self) -> Vec<u8> {
        self.spare.pop().unwrap_or_default()
    }

    /// Buffers whose datagrams went out, for reuse (up to a bound; the rest are freed).
    pub fn recycle(&mut self, buffers: &mut Vec<Vec<u8>>) {
        for mut b in buffers.drain(..) {
            if self.spare.len() >= SPARE_BUFFERS || b.capacity() > 4096 {
                continue;
            }
            b.clear();
            self.spare.push(b);
        }
    }

    pub fn push(&mut self, o: Output) {
        self.queue.push_back(o);
    }

    pub fn transmit(&mut self, t: Transmit) {
        self.queue.push_back(Output::Transmit(t));
    }

    pub fn event(&mut self, target: &Arc<str>, name: &'static str, data: Value) {
        self.queue.push_back(Output::Event(Event { target: target.clone(), name, data }));
    }

    pub fn pop(&mut self) -> Option<Output> {
        self.queue.pop_front()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod outbox_tests {
    use super::*;

    #[test]
    fn sent_buffers_come_back_empty_and_bounded() {
        let mut out = Outbox::default();
        assert_eq!(out.buffer().capacity(), 0, "nothing spare yet");
        let mut sent: Vec<Vec<u8>> = (0..SPARE_BUFFERS + 10).map(|_| vec![7u8; 1200]).collect();
        sent.push(vec![0u8; 10_000]); // an odd large one is not kept
        out.recycle(&mut sent);
        assert!(sent.is_empty());
        assert_eq!(out.spare.len(), SPARE_BUFFERS);
        let b = out.buffer();
        assert!(b.is_empty() && b.capacity() >= 1200);
    }
}
