//! ferrosoup: mediasoup v3's Node API on native worker threads. This crate is the Node binding
//! and the only code that names napi: it converts values at the edge, parses requests once
//! into the core's typed requests, owns the threadsafe functions, and maps the core's errors to
//! mediasoup's JS classes (as data: a class name and a message).

mod error;
mod sync;
mod worker;
