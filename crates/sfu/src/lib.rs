//! ferrosoup's SFU core, sans-IO: one [`engine::Engine`] per worker takes requests, datagrams,
//! pipe messages and time, and gives back datagrams, replies, events and its next deadline.
//! No napi, no tokio, no sockets: the runtime crate drives it with real ones, tests with
//! emulated ones in virtual time.
//!
//! - `api`: typed requests, ids, errors, settings
//! - `engine`: the worker's state and its one input/output loop
//! - `router`: rooms; producers and consumers with their per-packet units
//! - `transport`: WebRTC (ICE+DTLS+SRTP) and pipe links, and every transport's media state
//! - `net`, `rtp`, `ortc`: protocol units

pub mod api;
pub mod arena;
pub mod clock;
pub mod engine;
pub mod log;
pub mod net;
pub mod ortc;
pub mod router;
pub mod rtp;
pub mod trace;
pub mod transport;

pub use engine::{Engine, EngineConfig, Input, Output};
