//! A WebRtcTransport's datagram input in each state (new, ICE connected, DTLS connected), from
//! a validated tuple or a stranger. The first byte picks the state and the tuple.
#![no_main]
use std::cell::RefCell;
use std::time::Instant;

use ferrosoup_sfu::engine::Outbox;
use ferrosoup_sfu::net::certificate::LocalCertificate;
use ferrosoup_sfu::net::dtls::{DtlsTransport, Fingerprint, Role};
use ferrosoup_sfu::net::ice::{binding_request, demux, Demux};
use ferrosoup_sfu::net::rng::Rng;
use ferrosoup_sfu::net::{Protocol, SocketId, Tuple};
use ferrosoup_sfu::transport::webrtc::WebRtcTransport;
use ferrosoup_sfu::transport::LocalSocket;
use ferrosoup_sfu::api::TransportId;
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fn peer_tuple() -> Tuple {
    Tuple { socket: SocketId(1), protocol: Protocol::Udp, local: "127.0.0.1:40000".parse().unwrap(), remote: "127.0.0.1:50000".parse().unwrap() }
}

fn transport() -> WebRtcTransport {
    let local = peer_tuple().local;
    WebRtcTransport::new(
        TransportId::new("t"),
        LocalCertificate::generate().unwrap(),
        vec![LocalSocket { id: SocketId(1), protocol: Protocol::Udp, local, announced_address: None, index: 0, preferred: false, expose_internal_ip: false }],
        false,
        30,
        600_000,
        &mut Rng::from_seed([2; 32]),
    )
}

fn checked(t: &mut WebRtcTransport, now: Instant) {
    let d = t.data_json();
    let req = binding_request(d["iceParameters"]["usernameFragment"].as_str().unwrap(), "peer", d["iceParameters"]["password"].as_str().unwrap(), true, false);
    t.handle_datagram(now, peer_tuple(), &req, &mut Outbox::default());
}

/// A transport that went through ICE and a full DTLS handshake with a client.
fn connected(now: Instant) -> WebRtcTransport {
    let mut t = transport();
    let cert = LocalCertificate::generate().unwrap();
    let fp = cert.fingerprints[2]["value"].as_str().unwrap().to_string();
    let mut out = Outbox::default();
    t.connect(now, Some(&json!({ "role": "client", "fingerprints": [{ "algorithm": "sha-256", "value": fp }] })), &mut out).unwrap();
    checked(&mut t, now);
    let server_fp = t.data_json()["dtlsParameters"]["fingerprints"][2]["value"].as_str().unwrap().to_string();
    let mut client = DtlsTransport::new(cert);
    client.set_remote_fingerprints(now, vec![Fingerprint { algorithm: "sha-256".into(), value: server_fp }]);
    client.run(now, Role::Client);
    let mut out = Outbox::default();
    for _ in 0..50 {
        while let Some(d) = client.poll_transmit() {
            t.handle_datagram(now, peer_tuple(), &d, &mut out);
        }
        while let Some(o) = out.pop() {
            if let ferrosoup_sfu::engine::Output::Transmit(x) = o {
                if demux(&x.data) == Demux::Dtls {
                    client.handle_datagram(now, &x.data);
                }
            }
        }
    }
    assert!(t.is_connected(), "handshake in the harness");
    t
}

thread_local! {
    static STATES: RefCell<Option<[WebRtcTransport; 3]>> = const { RefCell::new(None) };
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, datagram)) = data.split_first() else { return };
    let now = Instant::now();
    STATES.with(|s| {
        let mut s = s.borrow_mut();
        let states = s.get_or_insert_with(|| {
            let fresh = transport();
            let mut ice = transport();
            checked(&mut ice, now);
            [fresh, ice, connected(now)]
        });
        let t = &mut states[usize::from(sel % 3)];
        let mut tuple = peer_tuple();
        if sel & 0x80 != 0 {
            tuple.remote = "127.0.0.1:50001".parse().unwrap();
        }
        let mut out = Outbox::default();
        let got = t.handle_datagram(now, tuple, datagram, &mut out);
        // A stranger's media never gets through (only ICE may validate a new tuple).
        if sel & 0x80 != 0 {
            assert!(got.is_none(), "a stranger's datagram reached the router");
        }
        t.handle_timeout(now, &mut out);
    });
});
