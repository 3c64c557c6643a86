//! ferrosoup: mediasoup v3's API on native worker threads.
//!
//! The media core (`ortc`, `router`, `worker`, ...) is plain Rust and knows nothing of Node;
//! `napi` is the one module that converts values and owns threadsafe functions.

pub mod channel;
pub mod client;
pub mod consumer;
pub mod producer;
pub mod rtcp;
pub mod rtp;
pub mod twcc;
pub mod certificate;
pub mod dtls;
pub mod ice;
pub mod srtp;
pub mod transport;
pub mod js;
pub mod ortc;
pub mod router;
pub mod scalability;
pub mod worker;

#[cfg_attr(test, allow(dead_code))]
mod napi;
