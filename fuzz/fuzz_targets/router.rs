//! A router fed a sequence of packets (the producer's RTP and RTCP, viewers' feedback) and clock
//! steps: it never panics, and it never sends much more than it receives (every byte out is a
//! forwarded or replayed packet, a bounded retransmission, or a report).
#![no_main]
use std::time::{Duration, Instant, SystemTime};

use ferrosoup_sfu::api::{Body, Request, RouterId, TransportId};
use ferrosoup_sfu::arena::Arena;
use ferrosoup_sfu::clock::Clock;
use ferrosoup_sfu::engine::Outbox;
use ferrosoup_sfu::net::rng::Rng;
use ferrosoup_sfu::router::producer::KeyFrameCacheConfig;
use ferrosoup_sfu::router::Router;
use ferrosoup_sfu::transport::{Link, Transport};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

const CACHE_BYTES: usize = 20_000;

fn body(method: &str, data: serde_json::Value) -> Body {
    Request::from_value(1, method, "x", data).unwrap().body
}

fn sent_bytes(t: &mut Transport) -> usize {
    match &mut t.link {
        Link::Capture { sent, .. } => sent.drain(..).map(|(_, d)| d.len()).sum(),
        _ => 0,
    }
}

/// What every input starts from, parsed once: the router's capabilities and the requests that
/// create its producer and consumers (parsing them each time would be most of the work).
struct Setup {
    caps: serde_json::Value,
    produce: ferrosoup_sfu::api::request::Produce,
    consume: Vec<ferrosoup_sfu::api::request::Consume>,
}

fn setup() -> Setup {
    let codecs = json!([{ "kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2 }, { "kind": "video", "mimeType": "video/VP8", "clockRate": 90000 }]);
    let caps = ferrosoup_sfu::ortc::generate_router_rtp_capabilities(Some(&codecs)).unwrap();
    let params = json!({
        "mid": "0",
        "codecs": [
            { "mimeType": "video/VP8", "payloadType": 96, "clockRate": 90000, "rtcpFeedback": [{ "type": "nack" }, { "type": "nack", "parameter": "pli" }, { "type": "transport-cc" }] },
            { "mimeType": "video/rtx", "payloadType": 97, "clockRate": 90000, "parameters": { "apt": 96 } },
        ],
        "headerExtensions": [{ "uri": "urn:ietf:params:rtp-hdrext:sdes:mid", "id": 4 }, { "uri": "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01", "id": 3 }],
        "encodings": [{ "ssrc": 1111, "rtx": { "ssrc": 2222 } }],
        "rtcp": { "cname": "c" },
    });
    let Body::TransportProduce(produce) = body("transport.produce", json!({ "producerId": "p", "kind": "video", "rtpParameters": params })) else { unreachable!() };
    let consume = ["c", "pc"]
        .iter()
        .map(|id| {
            let Body::TransportConsume(c) = body("transport.consume", json!({ "consumerId": id, "producerId": "p", "rtpCapabilities": caps })) else { unreachable!() };
            c
        })
        .collect();
    Setup { caps, produce, consume }
}

thread_local! {
    static SETUP: Setup = setup();
}

fuzz_target!(|data: &[u8]| SETUP.with(|s| run(s, data)));

fn run(setup: &Setup, data: &[u8]) {
    let mut routers = Arena::default();
    let cache = KeyFrameCacheConfig { max_duration: Duration::from_secs(2), max_bytes: CACHE_BYTES };
    let rk = routers.insert(Router::new(RouterId::new("r"), setup.caps.clone(), Some(cache)));
    let mut transports = Arena::default();
    let mut rng = Rng::from_seed([4; 32]);
    let mut keys = Vec::new();
    for (name, pipe) in [("send", false), ("recv", false), ("pipe", true)] {
        let tk = transports.insert(Transport::new(TransportId::new(name), rk, Link::Capture { pipe, sent: Vec::new() }, 7));
        routers[rk].add_transport(tk);
        keys.push(tk);
    }
    let (send, recv, pipe) = (keys[0], keys[1], keys[2]);
    let t0 = Instant::now();
    let clock = Clock::new(t0, SystemTime::now());
    let mut now = t0;
    let mut out = Outbox::default();
    routers[rk].produce(send, &mut transports[send], setup.produce.clone(), &mut rng).unwrap();
    for (t, c) in [recv, pipe].into_iter().zip(&setup.consume) {
        routers[rk].consume(now, &clock, t, &mut transports, c.clone(), &mut rng, &mut out).unwrap();
        routers[rk].transport_connected(now, &clock, t, &mut transports, &mut out);
    }
    let mut bytes_in = 0usize;
    let mut bytes_out = 0usize;
    // Ops: [kind][len u16][payload].
    let mut rest = data;
    while rest.len() >= 3 {
        let kind = rest[0];
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]])).min(rest.len() - 3);
        let payload = &rest[3..3 + len];
        rest = &rest[3 + len..];
        let router = &mut routers[rk];
        match kind % 5 {
            0 => {
                bytes_in += payload.len();
                router.on_rtp(now, &clock, send, payload, &mut transports, &mut out);
            }
            1 => {
                bytes_in += payload.len();
                router.on_rtcp(now, &clock, recv, payload, &mut transports, &mut out);
            }
            2 => {
                bytes_in += payload.len();
                router.on_rtcp(now, &clock, send, payload, &mut transports, &mut out);
            }
            3 => {
                let ms = payload.first().copied().unwrap_or(1);
                now += Duration::from_millis(u64::from(ms) * 4);
                router.tick(now, &clock, &mut transports, &mut out);
            }
            _ => {
                bytes_in += payload.len();
                router.on_rtcp(now, &clock, pipe, payload, &mut transports, &mut out);
            }
        }
        while out.pop().is_some() {}
        for tk in [send, recv, pipe] {
            bytes_out += sent_bytes(&mut transports[tk]);
        }
        // Forwarding to two consumers (with header rewriting), a bounded number of cache
        // replays per second of virtual time, bounded retransmissions, and reports.
        let secs = (now - t0).as_secs() as usize + 2;
        let allowed = 4 * bytes_in + secs * (4 * CACHE_BYTES + 64 * 1024);
        assert!(bytes_out <= allowed, "{bytes_out} bytes out for {bytes_in} in over {secs} s");
    }
}
