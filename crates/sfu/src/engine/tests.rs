use super::*;
use std::time::Duration;

use crate::api::ErrorKind;

struct E {
    e: Engine,
    now: Instant,
    next_socket: u32,
    outputs: Vec<Output>,
}

impl E {
    fn new() -> Self {
        let now = Instant::now();
        let cert = LocalCertificate::generate().unwrap();
        let e = Engine::new(EngineConfig { settings: Settings::default(), certificate: cert, seed: [5; 32], worker: 1, video_padding: 0 }, now, SystemTime::now());
        E { e, now, next_socket: 0, outputs: Vec::new() }
    }

    /// Drains outputs, binding sockets (TCP listeners as asked) at 127.0.0.1:4000+.
    fn drain(&mut self) {
        loop {
            match self.e.poll_output() {
                Output::Timeout(_) => return,
                Output::Bind { token, sockets } => {
                    let bound = sockets
                        .iter()
                        .map(|s| {
                            self.next_socket += 1;
                            BoundSocket { id: SocketId(self.next_socket), protocol: s.info.protocol, local: format!("127.0.0.1:{}", 4000 + self.next_socket).parse().unwrap() }
                        })
                        .collect();
                    self.e.handle_input(self.now, Input::Bound { token, result: Ok(bound) });
                }
                o => self.outputs.push(o),
            }
        }
    }

    fn request(&mut self, method: &str, handler: &str, data: Value) -> ApiResult<Value> {
        let req = Request::from_value(7, method, handler, data)?;
        self.e.handle_input(self.now, Input::Request(req));
        self.drain();
        let i = self.outputs.iter().position(|o| matches!(o, Output::Reply { .. })).expect("a reply");
        match self.outputs.remove(i) {
            Output::Reply { result, .. } => result.map(Reply::into_value),
            _ => unreachable!(),
        }
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        self.e.handle_input(self.now, Input::Timeout);
        self.drain();
    }

    fn closed_sockets(&mut self) -> Vec<SocketId> {
        let v = self.outputs.iter().filter_map(|o| if let Output::CloseSocket(s) = o { Some(*s) } else { None }).collect();
        self.outputs.retain(|o| !matches!(o, Output::CloseSocket(_)));
        v
    }
}

fn router(e: &mut E) {
    let codecs = json!([{ "kind": "video", "mimeType": "video/VP8", "clockRate": 90000 }]);
    e.request("worker.createRouter", "", json!({ "routerId": "r", "mediaCodecs": codecs })).unwrap();
}

#[test]
fn requests_bind_sockets_and_unknown_handlers_are_not_found() {
    let mut e = E::new();
    router(&mut e);
    let t = e.request("router.createWebRtcTransport", "r", json!({ "transportId": "t", "listenInfos": [{ "protocol": "udp", "ip": "127.0.0.1" }, { "protocol": "tcp", "ip": "127.0.0.1" }] })).unwrap();
    assert_eq!(t["iceCandidates"].as_array().unwrap().len(), 2);
    assert_eq!(t["iceCandidates"][1]["tcpType"], "passive");
    let err = e.request("transport.dump", "nope", Value::Null).unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert_eq!(err.message, "Channel request handler with ID nope not found [method:TRANSPORT_DUMP]");
    // Closing the router hands every socket back.
    e.request("worker.closeRouter", "", json!({ "routerId": "r" })).unwrap();
    assert_eq!(e.closed_sockets().len(), 2);
    assert_eq!(e.request("router.dump", "r", Value::Null).unwrap_err().kind, ErrorKind::NotFound);
}

#[test]
fn tcp_connections_are_capped_and_closed_without_ice() {
    let mut e = E::new();
    router(&mut e);
    e.request("router.createWebRtcTransport", "r", json!({ "transportId": "t", "listenInfos": [{ "protocol": "tcp", "ip": "127.0.0.1" }] })).unwrap();
    let listener = SocketId(1);
    // More connections than a transport keeps: the extra ones are closed at once.
    let extra = 5;
    for i in 0..(crate::transport::webrtc::MAX_TCP_CONNECTIONS + extra) as u32 {
        let conn = SocketId(100 + i);
        e.e.handle_input(e.now, Input::TcpAccepted { listener, conn, remote: format!("127.0.0.1:{}", 30000 + i).parse().unwrap() });
        e.drain();
    }
    assert_eq!(e.closed_sockets().len(), extra);
    // None of them does ICE: all are closed once the deadline passes (not before).
    e.advance(crate::transport::webrtc::TCP_ICE_DEADLINE - Duration::from_millis(100));
    assert!(e.closed_sockets().is_empty());
    e.advance(Duration::from_millis(200));
    assert_eq!(e.closed_sockets().len(), crate::transport::webrtc::MAX_TCP_CONNECTIONS);
    let stats = e.request("transport.getStats", "t", Value::Null).unwrap();
    assert_eq!(stats[0]["drops"]["overLimit"], (crate::transport::webrtc::MAX_TCP_CONNECTIONS + extra) as u64);
}

#[test]
fn garbage_and_strangers_are_dropped_and_counted_by_reason() {
    let mut e = E::new();
    router(&mut e);
    e.request("router.createWebRtcTransport", "r", json!({ "transportId": "t", "listenInfos": [{ "protocol": "udp", "ip": "127.0.0.1" }] })).unwrap();
    let socket = SocketId(1);
    let from = "127.0.0.1:9".parse().unwrap();
    for data in [&[0xffu8; 40][..], &[0u8; 20][..], &[22u8; 40][..], &[0x80, 96, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 9, 9][..]] {
        e.e.handle_input(e.now, Input::Datagram { socket, from, data });
        e.drain();
    }
    assert!(e.outputs.iter().all(|o| !matches!(o, Output::Transmit(_))), "nothing answered");
    let stats = e.request("transport.getStats", "t", Value::Null).unwrap();
    let d = &stats[0]["drops"];
    assert_eq!((d["unknown"].as_u64(), d["stunUnauthenticated"].as_u64(), d["invalidTuple"].as_u64()), (Some(1), Some(1), Some(2)));
    let dump = e.request("transport.dump", "t", Value::Null).unwrap();
    assert_eq!(dump["drops"], *d);
}

/// A VP8 key frame packet from the sender of the fan-out test (SSRC 1111).
fn key_frame(seq: u16) -> Vec<u8> {
    let p = rtc_rtp::packet::Packet {
        header: rtc_rtp::header::Header { version: 2, payload_type: 96, sequence_number: seq, timestamp: u32::from(seq) * 3000, ssrc: 1111, marker: true, ..Default::default() },
        // VP8 descriptor (start of partition 0) and a key frame's payload header.
        payload: bytes::Bytes::from_static(&[0x10, 0x00, 0x9d, 0x01, 0x2a, 0, 0, 0, 0, 0]),
    };
    crate::rtp::marshal(&p).unwrap()
}

#[test]
fn a_large_fan_out_lets_requests_in_between_and_keeps_packets_in_order() {
    let mut e = E::new();
    router(&mut e);
    let udp = json!({ "protocol": "udp", "ip": "127.0.0.1" });
    e.request("router.createPlainTransport", "r", json!({ "transportId": "send", "listenInfo": udp, "comedia": true })).unwrap();
    let params = json!({ "codecs": [{ "mimeType": "video/VP8", "payloadType": 96, "clockRate": 90000 }], "encodings": [{ "ssrc": 1111 }] });
    e.request("transport.produce", "send", json!({ "producerId": "p", "kind": "video", "rtpParameters": params })).unwrap();
    let codecs = json!([{ "kind": "video", "mimeType": "video/VP8", "clockRate": 90000 }]);
    let caps = crate::ortc::generate_router_rtp_capabilities(Some(&codecs)).unwrap();
    // More viewers than one chunk of a fan-out, each on a connected plain transport.
    let n = crate::router::FANOUT_CHUNK + 40;
    for i in 0..n {
        let t = format!("v{i}");
        e.request("router.createPlainTransport", "r", json!({ "transportId": t, "listenInfo": udp })).unwrap();
        e.request("plainTransport.connect", &t, json!({ "ip": "127.0.0.1", "port": 20000 + i })).unwrap();
        e.request("transport.consume", &t, json!({ "consumerId": format!("c{i}"), "producerId": "p", "rtpCapabilities": caps })).unwrap();
    }
    e.outputs.clear();
    let (socket, from) = (SocketId(1), "127.0.0.1:9".parse().unwrap());
    e.e.handle_input(e.now, Input::Datagram { socket, from, data: &key_frame(1) });
    e.drain();
    let sent = |e: &E| e.outputs.iter().filter(|o| matches!(o, Output::Transmit(_))).count();
    // The first chunk went; the rest waits, and requests are answered meanwhile.
    assert!(e.e.has_more());
    assert_eq!(sent(&e), crate::router::FANOUT_CHUNK);
    assert!(e.request("transport.dump", "v0", Value::Null).is_ok());
    assert!(e.e.has_more());
    // A viewer not served yet closes meanwhile: skipped.
    e.request("router.closeTransport", "r", json!({ "transportId": format!("v{}", n - 1) })).unwrap();
    // The next packet: the fan-out under way ends first, so every viewer gets 1 before 2.
    e.e.handle_input(e.now, Input::Datagram { socket, from, data: &key_frame(2) });
    e.drain();
    while e.e.has_more() {
        e.e.handle_input(e.now, Input::Resume);
        e.drain();
    }
    let mut per_viewer: HashMap<SocketAddr, Vec<u16>> = HashMap::new();
    for o in &e.outputs {
        if let Output::Transmit(t) = o {
            let p = crate::rtp::parse(&t.data).expect("plain RTP");
            per_viewer.entry(t.to).or_default().push(p.header.sequence_number);
        }
    }
    let closed: SocketAddr = format!("127.0.0.1:{}", 20000 + n - 1).parse().unwrap();
    assert!(!per_viewer.contains_key(&closed), "nothing after it closed");
    assert_eq!(per_viewer.len(), n - 1, "every other viewer");
    for (to, seqs) in &per_viewer {
        assert_eq!(seqs.len(), 2, "{to}: {seqs:?}");
        assert_eq!(seqs[1], seqs[0].wrapping_add(1), "{to}: in order, no gap: {seqs:?}");
    }
}
