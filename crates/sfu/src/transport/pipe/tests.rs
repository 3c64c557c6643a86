use super::*;
use crate::api::ErrorKind;
use crate::engine::io::Output;

fn addr(p: u16) -> SocketAddr {
    SocketAddr::new("127.0.0.1".parse().unwrap(), p)
}

fn rtp(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 96, (seq >> 8) as u8, seq as u8, 0, 0, 0, 1, 0x11, 0x22, 0x33, 0x44];
    p.extend_from_slice(&[0xab; 100]);
    p
}

/// A receiver report (PT 201) with no blocks.
fn rtcp() -> Vec<u8> {
    vec![0x80, 201, 0, 1, 0x55, 0x66, 0x77, 0x88]
}

fn new_pipe(id: &str, port: u16, announced: Option<String>, rtx: bool, srtp: bool) -> PipeTransport {
    PipeTransport::new(TransportId::new(id), SocketId(u32::from(port)), addr(port), announced, rtx, srtp, &mut Rng::from_seed([port as u8; 32]))
}

/// Datagrams a send put in the outbox.
fn wire(out: &mut Outbox) -> Vec<(SocketId, SocketAddr, Vec<u8>)> {
    std::iter::from_fn(|| out.pop())
        .map(|o| match o {
            Output::Transmit(t) => (t.socket, t.to, t.data),
            other => panic!("{other:?}"),
        })
        .collect()
}

fn pair(srtp: bool) -> (PipeTransport, PipeTransport) {
    let mut a = new_pipe("a", 4000, None, false, srtp);
    let mut b = new_pipe("b", 4001, None, false, srtp);
    let (da, db) = (a.data_json(), b.data_json());
    let mut ca = json!({ "ip": "127.0.0.1", "port": 4001 });
    let mut cb = json!({ "ip": "127.0.0.1", "port": 4000 });
    if srtp {
        ca["srtpParameters"] = db["srtpParameters"].clone();
        cb["srtpParameters"] = da["srtpParameters"].clone();
    }
    a.connect(&ca).unwrap();
    b.connect(&cb).unwrap();
    (a, b)
}

/// Delivers what `from` sent into `out` to `to`, as if over the wire: what `to` received.
fn carry(from: &PipeTransport, out: &mut Outbox, to: &mut PipeTransport, now: Instant) -> Vec<Received> {
    let mut got = Vec::new();
    for (socket, dst, data) in wire(out) {
        assert_eq!((socket, dst), (SocketId(u32::from(from.local().port())), to.local()));
        got.extend(to.handle_datagram(now, from.local(), &data));
    }
    got
}

#[test]
fn data_and_srtp_parameters_as_mediasoup() {
    let t = new_pipe("t", 4000, Some("10.0.0.1".into()), true, true);
    let d = t.data_json();
    assert_eq!(d["tuple"], json!({ "localIp": "10.0.0.1", "localAddress": "10.0.0.1", "localPort": 4000, "protocol": "udp" }));
    assert_eq!(d["rtx"], true);
    assert_eq!(d["srtpParameters"]["cryptoSuite"], "AEAD_AES_256_GCM");
    let key = base64::engine::general_purpose::STANDARD.decode(d["srtpParameters"]["keyBase64"].as_str().unwrap()).unwrap();
    assert_eq!(key.len(), 44);
    let plain = new_pipe("p", 4000, None, false, false);
    assert!(plain.data_json().get("srtpParameters").is_none());
}

#[test]
fn connect_checks() {
    let mut srtp = new_pipe("s", 4000, None, false, true);
    let mut plain = new_pipe("p", 4000, None, false, false);
    let key = srtp.data_json()["srtpParameters"].clone();
    let err = |r: Result<Value, RequestError>| r.unwrap_err();

    let e = err(srtp.connect(&json!({ "ip": "127.0.0.1", "port": 5 })));
    assert_eq!((e.kind, e.message.as_str()), (ErrorKind::Type, "missing srtpParameters (SRTP enabled)"));
    let e = err(plain.connect(&json!({ "ip": "127.0.0.1", "port": 5, "srtpParameters": key })));
    assert_eq!(e.message, "invalid srtpParameters (SRTP not enabled)");
    let e = err(srtp.connect(&json!({ "ip": "127.0.0.1", "port": 5, "srtpParameters": { "cryptoSuite": "AES_CM_128_HMAC_SHA1_80", "keyBase64": key["keyBase64"] } })));
    assert_eq!(e.message, "invalid/unsupported srtpParameters.cryptoSuite");
    let e = err(srtp.connect(&json!({ "ip": "127.0.0.1", "port": 5, "srtpParameters": { "cryptoSuite": "AEAD_AES_256_GCM", "keyBase64": "AAAA" } })));
    assert_eq!(e.message, "invalid decoded SRTP key length");
    let e = err(plain.connect(&json!({ "port": 5 })));
    assert_eq!((e.kind, e.message.as_str()), (ErrorKind::Type, "missing ip"));
    let e = err(plain.connect(&json!({ "ip": "127.0.0.1" })));
    assert_eq!(e.message, "missing port");
    let e = err(plain.connect(&json!({ "ip": "not an ip", "port": 5 })));
    assert_eq!(e.kind, ErrorKind::Type);
    let e = err(plain.connect(&json!({ "ip": "::1", "port": 5 })));
    assert_eq!(e.kind, ErrorKind::Other);
    assert!(!plain.is_connected(), "a failed connect() leaves the transport unconnected");

    let r = plain.connect(&json!({ "ip": "127.0.0.1", "port": 5000 })).unwrap();
    assert_eq!(r["tuple"]["remoteIp"], "127.0.0.1");
    assert_eq!(r["tuple"]["remotePort"], 5000);
    let e = err(plain.connect(&json!({ "ip": "127.0.0.1", "port": 5001 })));
    assert_eq!((e.kind, e.message.as_str()), (ErrorKind::Other, "connect() already called"));
}

#[test]
fn plain_rtp_and_rtcp_cross_unchanged() {
    let now = Instant::now();
    let (mut a, mut b) = pair(false);
    let mut out = Outbox::default();
    assert!(a.send_media(now, rtp(1), false, &mut out));
    assert!(a.send_media(now, rtcp(), true, &mut out));
    assert_eq!(carry(&a, &mut out, &mut b, now), vec![Received::Rtp(rtp(1)), Received::Rtcp(rtcp())]);
    assert_eq!((b.rtp_packets_received, b.rtcp_packets_received), (1, 1));
}

#[test]
fn srtp_both_ways_with_exchanged_keys() {
    let now = Instant::now();
    let (mut a, mut b) = pair(true);
    let (mut out_a, mut out_b) = (Outbox::default(), Outbox::default());
    for seq in 0..5 {
        a.send_media(now, rtp(seq), false, &mut out_a);
        b.send_media(now, rtp(100 + seq), false, &mut out_b);
    }
    a.send_media(now, rtcp(), true, &mut out_a);
    // What goes on the wire is protected (GCM adds a 16-byte tag).
    let sent = wire(&mut out_a);
    assert_eq!(sent[0].2.len(), rtp(0).len() + 16);
    assert_ne!(&sent[0].2[12..], &rtp(0)[12..]);
    let got: Vec<_> = sent.iter().filter_map(|(_, _, d)| b.handle_datagram(now, a.local(), d)).collect();
    assert_eq!(got.len(), 6);
    assert_eq!(got[0], Received::Rtp(rtp(0)));
    assert_eq!(got[5], Received::Rtcp(rtcp()));
    let back = carry(&b, &mut out_b, &mut a, now);
    assert_eq!(back.len(), 5);
    assert_eq!(back[0], Received::Rtp(rtp(100)));
    assert_eq!(b.drops, PipeDrops::default());
}

#[test]
fn strangers_tampering_and_replays_are_dropped() {
    let now = Instant::now();
    let (mut a, mut b) = pair(true);
    let mut out = Outbox::default();
    a.send_media(now, rtp(7), false, &mut out);
    let wire = wire(&mut out).remove(0).2;
    // From another address: dropped before decryption.
    b.handle_datagram(now, addr(9999), &wire);
    assert_eq!(b.drops.unknown_tuple, 1);
    // Tampered: fails authentication.
    let mut bad = wire.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    b.handle_datagram(now, addr(4000), &bad);
    assert_eq!(b.drops.srtp, 1);
    // The real one passes once; its replay does not.
    b.handle_datagram(now, addr(4000), &wire);
    b.handle_datagram(now, addr(4000), &wire);
    assert_eq!((b.drops.srtp, b.drops.srtp_replay), (1, 1));
    assert_eq!(b.rtp_packets_received, 1);
    // Garbage and plain RTP on an SRTP pipe.
    b.handle_datagram(now, addr(4000), &[1, 2, 3]);
    b.handle_datagram(now, addr(4000), &rtp(8));
    assert_eq!((b.drops.unknown, b.drops.srtp), (1, 2));
    assert_eq!(b.rtp_packets_received, 1);
}

#[test]
fn nothing_before_connect() {
    let now = Instant::now();
    let mut t = new_pipe("t", 4000, None, false, false);
    let mut out = Outbox::default();
    assert!(!t.send_media(now, rtp(1), false, &mut out));
    assert!(out.is_empty());
    assert!(t.handle_datagram(now, addr(4001), &rtp(1)).is_none());
    assert_eq!(t.drops.not_connected, 1);
}
