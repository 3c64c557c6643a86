use super::*;
use crate::engine::io::Output;

fn sock(id: u32, port: u16) -> PlainSocket {
    PlainSocket { id: SocketId(id), local: format!("127.0.0.1:{port}").parse().unwrap(), announced: None }
}

fn addr(port: u16) -> SocketAddr {
    format!("127.0.0.1:{port}").parse().unwrap()
}

fn rtp(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 96, (seq >> 8) as u8, seq as u8, 0, 0, 0, 1, 0, 0, 0x30, 0x39];
    p.extend_from_slice(&[7; 100]);
    p
}

fn rr() -> Vec<u8> {
    // An empty receiver report from SSRC 1.
    vec![0x80, 201, 0, 1, 0, 0, 0, 1]
}

fn events(out: &mut Outbox) -> Vec<(String, &'static str, Value)> {
    let mut v = Vec::new();
    while let Some(o) = out.pop() {
        if let Output::Event(e) = o {
            v.push((e.target.to_string(), e.name, e.data));
        }
    }
    v
}

#[test]
fn connect_checks_in_mediasoups_order_and_changes_nothing_on_failure() {
    let mut rng = Rng::from_seed([1; 32]);
    let mut t = PlainTransport::new(TransportId::new("p"), sock(1, 4000), Some(sock(2, 4001)), false, None, &mut rng);
    let err = |t: &mut PlainTransport, rng: &mut Rng, v: Value| t.connect(&v, rng).unwrap_err().message;
    assert_eq!(err(&mut t, &mut rng, json!({ "ip": "127.0.0.1", "port": 5000, "srtpParameters": { "cryptoSuite": "AES_CM_128_HMAC_SHA1_80", "keyBase64": "x" } })), "invalid srtpParameters (SRTP not enabled)");
    assert_eq!(err(&mut t, &mut rng, json!({ "port": 5000 })), "missing ip");
    assert_eq!(err(&mut t, &mut rng, json!({ "ip": "nope", "port": 5000 })), "invalid IP 'nope'");
    assert_eq!(err(&mut t, &mut rng, json!({ "ip": "127.0.0.1" })), "missing port");
    assert_eq!(err(&mut t, &mut rng, json!({ "ip": "127.0.0.1", "port": 5000 })), "missing rtcpPort (required with rtcpMux disabled)");
    assert!(!t.is_connected());
    let r = t.connect(&json!({ "ip": "127.0.0.1", "port": 5000, "rtcpPort": 5001 }), &mut rng).unwrap();
    assert_eq!(r["tuple"]["remotePort"], 5000);
    assert_eq!(r["rtcpTuple"]["remotePort"], 5001);
    assert!(t.take_newly_connected());
    assert_eq!(err(&mut t, &mut rng, json!({ "ip": "127.0.0.1", "port": 5000, "rtcpPort": 5001 })), "connect() already called");

    let mut muxed = PlainTransport::new(TransportId::new("m"), sock(3, 4002), None, false, None, &mut rng);
    assert_eq!(err(&mut muxed, &mut rng, json!({ "ip": "127.0.0.1", "port": 5000, "rtcpPort": 5001 })), "cannot set rtcpPort with rtcpMux enabled");
    let mut srtp = PlainTransport::new(TransportId::new("s"), sock(4, 4003), None, false, Some(Profile::AesCm128HmacSha1_80), &mut rng);
    assert_eq!(err(&mut srtp, &mut rng, json!({ "ip": "127.0.0.1", "port": 5000 })), "missing srtpParameters (SRTP enabled)");
    let short = base64::engine::general_purpose::STANDARD.encode([1u8; 29]);
    assert_eq!(err(&mut srtp, &mut rng, json!({ "ip": "127.0.0.1", "port": 5000, "srtpParameters": { "cryptoSuite": "AES_CM_128_HMAC_SHA1_80", "keyBase64": short } })), "invalid decoded SRTP key length");
    assert_eq!(err(&mut srtp, &mut rng, json!({ "ip": "127.0.0.1", "port": 5000, "srtpParameters": { "cryptoSuite": "NOPE", "keyBase64": short } })), "invalid SrtpCryptoSuite: NOPE");
}

#[test]
fn srtp_keys_are_mediasoups_shape_and_a_new_suite_gets_a_new_key() {
    let mut rng = Rng::from_seed([2; 32]);
    let mut t = PlainTransport::new(TransportId::new("s"), sock(1, 4000), None, false, Some(Profile::AesCm128HmacSha1_80), &mut rng);
    let key = t.data_json()["srtpParameters"]["keyBase64"].as_str().unwrap().to_string();
    assert_eq!(key.len(), 40);
    let raw = base64::engine::general_purpose::STANDARD.decode(&key).unwrap();
    assert!(raw.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    let remote = base64::engine::general_purpose::STANDARD.encode([9u8; 44]);
    let r = t.connect(&json!({ "ip": "127.0.0.1", "port": 5000, "srtpParameters": { "cryptoSuite": "AEAD_AES_256_GCM", "keyBase64": remote } }), &mut rng).unwrap();
    assert_eq!(r["srtpParameters"]["cryptoSuite"], "AEAD_AES_256_GCM");
    assert_eq!(r["srtpParameters"]["keyBase64"].as_str().unwrap().len(), 60);
}

#[test]
fn comedia_learns_the_first_endpoint_once_and_drops_the_rest() {
    let mut rng = Rng::from_seed([3; 32]);
    let now = Instant::now();
    let mut out = Outbox::default();
    let mut t = PlainTransport::new(TransportId::new("c"), sock(1, 4000), Some(sock(2, 4001)), true, None, &mut rng);
    // Nothing to send to yet.
    assert!(!t.send_media(now, rtp(1), false, &mut out));
    // RTP on the RTCP socket does not count.
    assert!(t.handle_datagram(now, SocketId(2), addr(6000), &rtp(1), &mut out).is_none());
    assert!(matches!(t.handle_datagram(now, SocketId(1), addr(6000), &rtp(1), &mut out), Some(Received::Rtp(_))));
    assert!(t.take_newly_connected());
    // RTCP on its own socket learns the RTCP endpoint.
    assert!(matches!(t.handle_datagram(now, SocketId(2), addr(6001), &rr(), &mut out), Some(Received::Rtcp(_))));
    let ev = events(&mut out);
    assert_eq!(ev.iter().map(|e| e.1).collect::<Vec<_>>(), ["tuple", "rtcptuple"]);
    assert_eq!(ev[0].2["tuple"]["remotePort"], 6000);
    assert_eq!(ev[1].2["tuple"]["remotePort"], 6001);
    // Another source (or port) later is dropped; the endpoint stays.
    assert!(t.handle_datagram(now, SocketId(1), addr(6010), &rtp(2), &mut out).is_none());
    assert!(t.handle_datagram(now, SocketId(2), addr(6000), &rr(), &mut out).is_none());
    assert!(t.handle_datagram(now, SocketId(1), addr(6000), &[0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], &mut out).is_none());
    assert_eq!(t.drops, PlainDrops { not_connected: 1, unknown_tuple: 2, srtp: 0, srtp_replay: 0, unknown: 1 });
    assert!(events(&mut out).is_empty());
    // RTP goes to the RTP endpoint, RTCP to the RTCP one, each from its socket.
    assert!(t.send_media(now, rtp(3), false, &mut out));
    assert!(t.send_media(now, rr(), true, &mut out));
    let sent: Vec<(SocketId, SocketAddr)> = std::iter::from_fn(|| out.pop()).filter_map(|o| if let Output::Transmit(x) = o { Some((x.socket, x.to)) } else { None }).collect();
    assert_eq!(sent, [(SocketId(1), addr(6000)), (SocketId(2), addr(6001))]);
    let stats = t.stats_json(now, &Clock::new(now, std::time::SystemTime::now()));
    assert_eq!((stats["type"].as_str(), stats["comedia"].as_bool(), stats["rtcpMux"].as_bool()), (Some("plain-rtp-transport"), Some(true), Some(false)));
    assert_eq!(stats["rtcpTuple"]["remotePort"], 6001);
}

#[test]
fn without_comedia_only_the_connected_endpoint_is_heard() {
    let mut rng = Rng::from_seed([4; 32]);
    let now = Instant::now();
    let mut out = Outbox::default();
    let mut t = PlainTransport::new(TransportId::new("n"), sock(1, 4000), None, false, None, &mut rng);
    assert!(t.handle_datagram(now, SocketId(1), addr(6000), &rtp(1), &mut out).is_none(), "not connected");
    t.connect(&json!({ "ip": "127.0.0.1", "port": 6000 }), &mut rng).unwrap();
    assert!(t.handle_datagram(now, SocketId(1), addr(6001), &rtp(1), &mut out).is_none(), "a stranger");
    assert!(t.handle_datagram(now, SocketId(1), addr(6000), &rtp(1), &mut out).is_some());
    // Muxed RTCP comes from the same endpoint.
    assert!(matches!(t.handle_datagram(now, SocketId(1), addr(6000), &rr(), &mut out), Some(Received::Rtcp(_))));
    assert!(events(&mut out).is_empty(), "no tuple event without comedia");
}

#[test]
fn two_plain_transports_talk_srtp_in_every_suite() {
    for profile in [Profile::AesCm128HmacSha1_80, Profile::AesCm128HmacSha1_32, Profile::AeadAes128Gcm, Profile::AeadAes256Gcm] {
        let mut rng = Rng::from_seed([5; 32]);
        let now = Instant::now();
        let mut out = Outbox::default();
        let mut a = PlainTransport::new(TransportId::new("a"), sock(1, 4000), None, false, Some(Profile::AesCm128HmacSha1_80), &mut rng);
        let mut b = PlainTransport::new(TransportId::new("b"), sock(2, 4100), None, false, Some(profile), &mut rng);
        // A adopts B's suite (and makes a key for it); B takes A's new key.
        let b_params = b.data_json()["srtpParameters"].clone();
        let a_reply = a.connect(&json!({ "ip": "127.0.0.1", "port": 4100, "srtpParameters": b_params }), &mut rng).unwrap();
        assert_eq!(a_reply["srtpParameters"]["cryptoSuite"], profile.name());
        b.connect(&json!({ "ip": "127.0.0.1", "port": 4000, "srtpParameters": a_reply["srtpParameters"] }), &mut rng).unwrap();
        for seq in 0..5u16 {
            assert!(a.send_media(now, rtp(seq), false, &mut out));
            let Some(Output::Transmit(x)) = out.pop() else { panic!("sent") };
            assert_ne!(x.data, rtp(seq), "encrypted");
            let got = b.handle_datagram(now, SocketId(2), addr(4000), &x.data, &mut out);
            assert_eq!(got, Some(Received::Rtp(rtp(seq))), "{}", profile.name());
            // A replay of it is refused.
            assert!(b.handle_datagram(now, SocketId(2), addr(4000), &x.data, &mut out).is_none());
        }
        assert!(a.send_media(now, rr(), true, &mut out));
        let Some(Output::Transmit(x)) = out.pop() else { panic!("sent") };
        assert_eq!(b.handle_datagram(now, SocketId(2), addr(4000), &x.data, &mut out), Some(Received::Rtcp(rr())));
        assert_eq!(b.drops.srtp_replay, 5);
    }
}
