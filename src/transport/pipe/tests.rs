use super::*;
use crate::channel::ErrorClass;

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

fn pair(srtp: bool) -> (PipeTransport, PipeTransport) {
    let mut a = PipeTransport::new("a".into(), addr(4000), None, false, srtp);
    let mut b = PipeTransport::new("b".into(), addr(4001), None, false, srtp);
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

/// Sends everything `from` queued to `to`, as if over the wire.
fn carry(from: &mut PipeTransport, to: &mut PipeTransport, now: Instant) -> usize {
    let mut n = 0;
    while let Some((dst, data)) = from.poll_transmit() {
        assert_eq!(dst, to.local());
        to.handle_datagram(now, from.local(), &data);
        n += 1;
    }
    n
}

#[test]
fn data_and_srtp_parameters_as_mediasoup() {
    let t = PipeTransport::new("t".into(), addr(4000), Some("10.0.0.1".into()), true, true);
    let d = t.data_json();
    assert_eq!(d["tuple"], json!({ "localIp": "10.0.0.1", "localAddress": "10.0.0.1", "localPort": 4000, "protocol": "udp" }));
    assert_eq!(d["rtx"], true);
    assert_eq!(d["srtpParameters"]["cryptoSuite"], "AEAD_AES_256_GCM");
    let key = base64::engine::general_purpose::STANDARD.decode(d["srtpParameters"]["keyBase64"].as_str().unwrap()).unwrap();
    assert_eq!(key.len(), 44);
    let plain = PipeTransport::new("p".into(), addr(4000), None, false, false);
    assert!(plain.data_json().get("srtpParameters").is_none());
}

#[test]
fn connect_checks() {
    let mut srtp = PipeTransport::new("s".into(), addr(4000), None, false, true);
    let mut plain = PipeTransport::new("p".into(), addr(4000), None, false, false);
    let key = srtp.data_json()["srtpParameters"].clone();
    let err = |r: Result<Value, RequestError>| r.unwrap_err();

    let e = err(srtp.connect(&json!({ "ip": "127.0.0.1", "port": 5 })));
    assert_eq!((e.class, e.reason.as_str()), (ErrorClass::TypeError, "missing srtpParameters (SRTP enabled)"));
    let e = err(plain.connect(&json!({ "ip": "127.0.0.1", "port": 5, "srtpParameters": key })));
    assert_eq!(e.reason, "invalid srtpParameters (SRTP not enabled)");
    let e = err(srtp.connect(&json!({ "ip": "127.0.0.1", "port": 5, "srtpParameters": { "cryptoSuite": "AES_CM_128_HMAC_SHA1_80", "keyBase64": key["keyBase64"] } })));
    assert_eq!(e.reason, "invalid/unsupported srtpParameters.cryptoSuite");
    let e = err(srtp.connect(&json!({ "ip": "127.0.0.1", "port": 5, "srtpParameters": { "cryptoSuite": "AEAD_AES_256_GCM", "keyBase64": "AAAA" } })));
    assert_eq!(e.reason, "invalid decoded SRTP key length");
    let e = err(plain.connect(&json!({ "port": 5 })));
    assert_eq!((e.class, e.reason.as_str()), (ErrorClass::TypeError, "missing ip"));
    let e = err(plain.connect(&json!({ "ip": "127.0.0.1" })));
    assert_eq!(e.reason, "missing port");
    let e = err(plain.connect(&json!({ "ip": "not an ip", "port": 5 })));
    assert_eq!(e.class, ErrorClass::TypeError);
    let e = err(plain.connect(&json!({ "ip": "::1", "port": 5 })));
    assert_eq!(e.class, ErrorClass::Error);
    assert!(!plain.is_connected(), "a failed connect() leaves the transport unconnected");

    let r = plain.connect(&json!({ "ip": "127.0.0.1", "port": 5000 })).unwrap();
    assert_eq!(r["tuple"]["remoteIp"], "127.0.0.1");
    assert_eq!(r["tuple"]["remotePort"], 5000);
    let e = err(plain.connect(&json!({ "ip": "127.0.0.1", "port": 5001 })));
    assert_eq!((e.class, e.reason.as_str()), (ErrorClass::Error, "connect() already called"));
}

#[test]
fn plain_rtp_and_rtcp_cross_unchanged() {
    let now = Instant::now();
    let (mut a, mut b) = pair(false);
    assert!(a.send_media(now, &rtp(1), false));
    assert!(a.send_media(now, &rtcp(), true));
    assert_eq!(carry(&mut a, &mut b, now), 2);
    assert_eq!(b.poll_received(), Some(Received::Rtp(rtp(1))));
    assert_eq!(b.poll_received(), Some(Received::Rtcp(rtcp())));
    assert_eq!((b.rtp_packets_received, b.rtcp_packets_received), (1, 1));
}

#[test]
fn srtp_both_ways_with_exchanged_keys() {
    let now = Instant::now();
    let (mut a, mut b) = pair(true);
    for seq in 0..5 {
        a.send_media(now, &rtp(seq), false);
        b.send_media(now, &rtp(100 + seq), false);
    }
    a.send_media(now, &rtcp(), true);
    // What goes on the wire is protected (GCM adds a 16-byte tag).
    let (_, wire) = a.outbox.front().cloned().map(|d| ((), d)).unwrap();
    assert_eq!(wire.len(), rtp(0).len() + 16);
    assert_ne!(&wire[12..], &rtp(0)[12..]);
    assert_eq!(carry(&mut a, &mut b, now), 6);
    assert_eq!(carry(&mut b, &mut a, now), 5);
    let got: Vec<_> = std::iter::from_fn(|| b.poll_received()).collect();
    assert_eq!(got.len(), 6);
    assert_eq!(got[0], Received::Rtp(rtp(0)));
    assert_eq!(got[5], Received::Rtcp(rtcp()));
    assert_eq!(a.poll_received(), Some(Received::Rtp(rtp(100))));
    assert_eq!(b.drops, PipeDrops::default());
}

#[test]
fn strangers_tampering_and_replays_are_dropped() {
    let now = Instant::now();
    let (mut a, mut b) = pair(true);
    a.send_media(now, &rtp(7), false);
    let (_, wire) = a.poll_transmit().unwrap();
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
    assert_eq!(b.drops.srtp, 2);
    assert_eq!(b.rtp_packets_received, 1);
    // Garbage and plain RTP on an SRTP pipe.
    b.handle_datagram(now, addr(4000), &[1, 2, 3]);
    b.handle_datagram(now, addr(4000), &rtp(8));
    assert_eq!((b.drops.unknown, b.drops.srtp), (1, 3));
    assert_eq!(b.rtp_packets_received, 1);
}

#[test]
fn nothing_before_connect() {
    let now = Instant::now();
    let mut t = PipeTransport::new("t".into(), addr(4000), None, false, false);
    assert!(!t.send_media(now, &rtp(1), false));
    assert!(t.poll_transmit().is_none());
    t.handle_datagram(now, addr(4001), &rtp(1));
    assert_eq!(t.drops.not_connected, 1);
    assert!(t.poll_received().is_none());
}
