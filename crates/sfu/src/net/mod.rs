//! Network protocol units, sans-IO: ICE-lite, DTLS, SRTP, the worker's certificate, RFC 4571
//! framing, and the seedable random source for what we pick ourselves.

pub mod certificate;
pub mod dtls;
pub mod framing;
pub mod ice;
pub mod rng;
pub mod sctp;
pub mod srtp;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use rtc_stun::crypto::RTCCryptoProvider;

/// The crypto provider (ring) for STUN integrity, DTLS, SRTP and certificates.
pub fn crypto() -> &'static Arc<dyn RTCCryptoProvider> {
    static PROVIDER: OnceLock<Arc<dyn RTCCryptoProvider>> = OnceLock::new();
    PROVIDER.get_or_init(|| rtc_stun::crypto::default_provider().expect("a crypto provider"))
}

/// A socket handed to the engine by whoever owns the real (or emulated) sockets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId(pub u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    Udp,
    Tcp,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Udp => "udp",
            Protocol::Tcp => "tcp",
        }
    }
}

/// A 5-tuple, with the socket it goes through (for TCP, the connection's own socket).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tuple {
    pub socket: SocketId,
    pub protocol: Protocol,
    pub local: SocketAddr,
    pub remote: SocketAddr,
}

/// A datagram (or RFC 4571 frame) to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    pub socket: SocketId,
    pub to: SocketAddr,
    pub data: Vec<u8>,
}
