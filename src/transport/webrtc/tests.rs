use super::*;

/// A browser-like peer: controlling ICE agent + DTLS client, in memory.
struct Peer {
    dtls: DtlsTransport,
    fingerprint: Vec<Fingerprint>,
    tuple: Tuple,
}

fn setup() -> (WebRtcTransport, Peer) {
    let server_cert = LocalCertificate::generate().unwrap();
    let local: std::net::SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let t = WebRtcTransport::new(
        "t1".into(),
        server_cert,
        vec![LocalSocket { protocol: Protocol::Udp, local, announced_address: None }],
        30,
        600_000,
    );
    let peer_cert = LocalCertificate::generate().unwrap();
    let fingerprint = vec![Fingerprint {
        algorithm: "sha-256".into(),
        value: peer_cert.fingerprints[2]["value"].as_str().unwrap().into(),
    }];
    let tuple = Tuple { protocol: Protocol::Udp, local, remote: "127.0.0.1:50000".parse().unwrap() };
    (t, Peer { dtls: DtlsTransport::new(peer_cert), fingerprint, tuple })
}

fn server_fingerprints(t: &WebRtcTransport) -> Vec<Fingerprint> {
    let fp = &t.data_json()["dtlsParameters"]["fingerprints"][2];
    vec![Fingerprint { algorithm: fp["algorithm"].as_str().unwrap().into(), value: fp["value"].as_str().unwrap().into() }]
}

fn check(t: &mut WebRtcTransport, p: &Peer, now: Instant, nominate: bool) {
    let data = t.data_json();
    let ufrag = data["iceParameters"]["usernameFragment"].as_str().unwrap();
    let pwd = data["iceParameters"]["password"].as_str().unwrap();
    let req = crate::ice::binding_request(ufrag, "peer", pwd, nominate, false);
    t.handle_datagram(now, p.tuple, &req);
}

/// Moves datagrams between transport and peer until quiet.
fn pump(t: &mut WebRtcTransport, p: &mut Peer, now: Instant) -> Vec<Transmit> {
    let mut stun = Vec::new();
    for _ in 0..100 {
        let mut moved = false;
        while let Some(tx) = t.poll_transmit() {
            moved = true;
            assert_eq!(tx.tuple, p.tuple);
            if demux(&tx.data) == Demux::Dtls {
                p.dtls.handle_datagram(now, &tx.data);
            } else {
                stun.push(tx);
            }
        }
        while let Some(d) = p.dtls.poll_transmit() {
            moved = true;
            t.handle_datagram(now, p.tuple, &d);
        }
        if !moved {
            break;
        }
    }
    stun
}

fn notifications(t: &mut WebRtcTransport) -> Vec<(String, Value)> {
    std::iter::from_fn(|| t.poll_notification()).map(|(e, d)| (e.to_string(), d)).collect()
}

#[test]
fn browser_flow_ice_dtls_srtp() {
    let (mut t, mut p) = setup();
    let now = Instant::now();
    let data = t.data_json();
    assert_eq!(data["iceRole"], "controlled");
    assert_eq!(data["iceState"], "new");
    assert_eq!(data["dtlsParameters"]["role"], "auto");
    assert_eq!(data["iceCandidates"][0]["priority"], 1076302079u32);
    assert_eq!(data["iceCandidates"][0]["foundation"], "udpcandidate");
    // The app connects first (mediasoup-client: DTLS client).
    let r = t.connect(now, &json!({ "dtlsParameters": { "role": "client", "fingerprints": [
        { "algorithm": "sha-256", "value": p.fingerprint[0].value }] } })).unwrap();
    assert_eq!(r["dtlsLocalRole"], "server");
    assert_eq!(t.data_json()["dtlsParameters"]["role"], "server");
    // ICE: check, then nominate.
    check(&mut t, &p, now, false);
    assert_eq!(pump(&mut t, &mut p, now).len(), 1);
    check(&mut t, &p, now, true);
    pump(&mut t, &mut p, now);
    assert_eq!(t.ice_state(), IceState::Completed);
    // Browser starts DTLS as client.
    p.dtls.set_remote_fingerprints(now, server_fingerprints(&t));
    p.dtls.run(now, Role::Client);
    pump(&mut t, &mut p, now);
    assert_eq!(p.dtls.state(), DtlsState::Connected);
    assert_eq!(t.dtls_state(), DtlsState::Connected);
    let events: Vec<String> = notifications(&mut t).into_iter().map(|(e, d)| format!("{e}:{}", d.get("iceState").or(d.get("dtlsState")).map(|v| v.as_str().unwrap().to_string()).unwrap_or_default())).collect();
    assert_eq!(events, vec!["iceselectedtuplechange:", "icestatechange:connected", "dtlsstatechange:connecting", "icestatechange:completed", "dtlsstatechange:connected"]);
    // SRTP from the browser is decrypted; garbage and replays are dropped and counted.
    let mut srtp = p.dtls.take_srtp().unwrap();
    let mut rtp = vec![0x80, 96, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4];
    rtp.extend([9u8; 50]);
    let protected = srtp.encrypt_rtp(&rtp).unwrap();
    t.handle_datagram(now, p.tuple, &protected);
    t.handle_datagram(now, p.tuple, &protected);
    assert_eq!(t.rtp_packets_received, 1);
    assert_eq!(t.drops.srtp, 1);
    // From a tuple ICE never validated: dropped.
    let stranger = Tuple { remote: "127.0.0.1:50001".parse().unwrap(), ..p.tuple };
    t.handle_datagram(now, stranger, &protected);
    assert_eq!(t.drops.invalid_tuple, 1);
    let stats = t.stats_json(now);
    assert_eq!(stats[0]["type"], "webrtc-transport");
    assert_eq!(stats[0]["dtlsState"], "connected");
    assert!(stats[0]["bytesReceived"].as_u64().unwrap() > 0);
    assert_eq!(stats[0]["iceSelectedTuple"]["remotePort"], 50000);
    // Closing sends close_notify to the peer.
    t.close(now);
    pump(&mut t, &mut p, now);
    assert_eq!(p.dtls.state(), DtlsState::Closed);
}

#[test]
fn wrong_fingerprint_means_failed() {
    let (mut t, mut p) = setup();
    let now = Instant::now();
    t.connect(now, &json!({ "dtlsParameters": { "role": "client", "fingerprints": [
        { "algorithm": "sha-256", "value": "AA:BB" }] } })).unwrap();
    check(&mut t, &p, now, true);
    pump(&mut t, &mut p, now);
    p.dtls.set_remote_fingerprints(now, server_fingerprints(&t));
    p.dtls.run(now, Role::Client);
    pump(&mut t, &mut p, now);
    assert_eq!(t.dtls_state(), DtlsState::Failed);
    assert!(notifications(&mut t).iter().any(|(e, d)| e == "dtlsstatechange" && d["dtlsState"] == "failed"));
}

#[test]
fn connect_validation_and_roles() {
    let (mut t, _) = setup();
    let now = Instant::now();
    let e = t.connect(now, &json!({ "dtlsParameters": { "fingerprints": [] } })).unwrap_err();
    assert_eq!(e.class, ErrorClass::TypeError);
    // Remote 'auto' (or 'server') → we are the DTLS client.
    let r = t.connect(now, &json!({ "dtlsParameters": { "role": "auto", "fingerprints": [{ "algorithm": "sha-1", "value": "AA" }] } })).unwrap();
    assert_eq!(r["dtlsLocalRole"], "client");
    let e = t.connect(now, &json!({ "dtlsParameters": { "role": "auto", "fingerprints": [{ "algorithm": "sha-1", "value": "AA" }] } })).unwrap_err();
    assert_eq!(e.reason, "connect() already called");
}

#[test]
fn dtls_before_ice_and_garbage_are_dropped() {
    let (mut t, p) = setup();
    let now = Instant::now();
    t.handle_datagram(now, p.tuple, &[22u8; 40]);
    assert_eq!(t.drops.invalid_tuple, 1);
    t.handle_datagram(now, p.tuple, &[0xff; 40]);
    assert_eq!(t.drops.unknown, 1);
    t.handle_datagram(now, p.tuple, &[0u8; 20]);
    assert_eq!(t.drops.stun, 1);
    assert_eq!(t.ice_state(), IceState::New);
    assert!(t.poll_transmit().is_none());
}

#[test]
fn dtls_role_auto_runs_as_server_when_ice_connects_first() {
    let (mut t, mut p) = setup();
    let now = Instant::now();
    check(&mut t, &p, now, true);
    pump(&mut t, &mut p, now);
    assert_eq!(t.dtls_state(), DtlsState::Connecting);
    p.dtls.set_remote_fingerprints(now, server_fingerprints(&t));
    p.dtls.run(now, Role::Client);
    pump(&mut t, &mut p, now);
    // Handshake done but not verified: still connecting until connect() brings fingerprints.
    assert_eq!(t.dtls_state(), DtlsState::Connecting);
    t.connect(now, &json!({ "dtlsParameters": { "role": "client", "fingerprints": [
        { "algorithm": "sha-256", "value": p.fingerprint[0].value }] } })).unwrap();
    assert_eq!(t.dtls_state(), DtlsState::Connected);
}
