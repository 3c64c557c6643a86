//! A connected PipeTransport's input (plain or SRTP), from its remote or a stranger.
#![no_main]
use std::net::SocketAddr;
use std::time::Instant;

use ferrosoup_sfu::api::TransportId;
use ferrosoup_sfu::net::rng::Rng;
use ferrosoup_sfu::net::SocketId;
use ferrosoup_sfu::transport::pipe::PipeTransport;
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, datagram)) = data.split_first() else { return };
    let srtp = sel & 1 != 0;
    let local: SocketAddr = "127.0.0.1:4000".parse().unwrap();
    let mut t = PipeTransport::new(TransportId::new("p"), SocketId(1), local, None, sel & 2 != 0, srtp, &mut Rng::from_seed([3; 32]));
    let mut c = json!({ "ip": "127.0.0.1", "port": 4001 });
    if srtp {
        c["srtpParameters"] = t.data_json()["srtpParameters"].clone();
    }
    t.connect(&c).unwrap();
    let from: SocketAddr = if sel & 4 != 0 { "127.0.0.1:4002".parse().unwrap() } else { "127.0.0.1:4001".parse().unwrap() };
    let got = t.handle_datagram(Instant::now(), from, datagram);
    if sel & 4 != 0 {
        assert!(got.is_none(), "a stranger's datagram got through");
    }
});
