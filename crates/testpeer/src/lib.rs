//! A browser-like peer for ferrosoup's tests and benchmarks, built from the core's protocol
//! units: the controlling ICE agent, the DTLS client and SRTP of one WebRTC connection
//! ([`peer::TestPeer`], sans-IO), synthetic media ([`media`]), and what a receiver checks
//! ([`receiver`]: complete key frames, per-stream counts, NACKs). [`driver`] runs them over real
//! UDP sockets with tokio for the JS tests and benchmarks. Not part of the product.

pub mod attack;
pub mod driver;
pub mod engine_bench;
pub mod floor;
pub mod media;
pub mod peer;
pub mod receiver;

use std::sync::{Arc, OnceLock};

use ferrosoup_sfu::net::certificate::LocalCertificate;

/// One certificate for every peer of the process (as one browser profile would).
pub fn certificate() -> Arc<LocalCertificate> {
    static CERT: OnceLock<Arc<LocalCertificate>> = OnceLock::new();
    CERT.get_or_init(|| LocalCertificate::generate().expect("peer certificate")).clone()
}
