//! ferrosoup: mediasoup v3's Node API on native worker threads. This crate is the Node binding
//! and the only code that names napi: it converts values at the edge, parses requests once
//! into the core's typed requests, owns the threadsafe functions, and maps the core's errors to
//! mediasoup's JS classes (as data: a class name and a message).

mod error;
mod sync;
mod worker;

/// jemalloc for the addon's Rust code: requests are parsed on the Node thread and dropped on a
/// worker thread, and glibc's malloc made those frees contend with the Node thread's allocations
/// (a connect cost the worker 12-16 us instead of 3-4). Initial-exec TLS is off: the addon is
/// loaded with dlopen.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
