//! STUN handling of an ICE-lite server with known credentials (in the dictionary): a request
//! gets an answer only if it authenticates with our password.
#![no_main]
use std::time::Instant;

use ferrosoup_sfu::net::ice::{IceServer, StunOutcome};
use ferrosoup_sfu::net::rng::Rng;
use ferrosoup_sfu::net::{Protocol, SocketId, Tuple};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut ice = IceServer::new(30, &mut Rng::from_seed([1; 32]));
    let tuple = Tuple { socket: SocketId(1), protocol: Protocol::Udp, local: "127.0.0.1:4000".parse().unwrap(), remote: "127.0.0.1:5000".parse().unwrap() };
    let out = ice.handle_stun(Instant::now(), tuple, data);
    if let StunOutcome::Reply(_) = out {
        // Only an authenticated request is answered: its MESSAGE-INTEGRITY checks out.
        let mut m = rtc_stun::message::Message::new();
        m.unmarshal_binary(data).expect("answered, so it parsed");
        let crypto = ferrosoup_sfu::net::crypto().crypto();
        rtc_stun::integrity::MessageIntegrity::check(&mut m, ice.password().as_bytes(), crypto).expect("answered without authenticating");
    }
});
