use super::*;
use crate::api::ErrorKind;
use crate::engine::io::Output;
use crate::net::SocketId;

/// A browser-like peer: controlling ICE agent + DTLS client, in memory.
struct Peer {
    dtls: DtlsTransport,
    fingerprint: Vec<Fingerprint>,
    tuple: Tuple,
}

/// The transport under test and what it put out: datagrams for the peer, events for the app.
struct T {
    t: WebRtcTransport,
    out: Outbox,
    events: Vec<(String, Value)>,
    transmits: Vec<Transmit>,
}

impl T {
    fn collect(&mut self) {
        while let Some(o) = self.out.pop() {
            match o {
                Output::Transmit(t) => self.transmits.push(t),
                Output::Event(e) => self.events.push((e.name.to_string(), e.data)),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    fn handle_datagram(&mut self, now: Instant, tuple: Tuple, data: &[u8]) -> Option<Received> {
        let r = self.t.handle_datagram(now, tuple, data, &mut self.out);
        self.collect();
        r
    }
    fn connect(&mut self, now: Instant, v: Value) -> ApiResult<Value> {
        let r = self.t.connect(now, v.get("dtlsParameters"), &mut self.out);
        self.collect();
        r
    }
    fn notifications(&mut self) -> Vec<(String, Value)> {
        std::mem::take(&mut self.events)
    }
}

fn setup() -> (T, Peer) {
    let server_cert = LocalCertificate::generate().unwrap();
    let local: std::net::SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let t = WebRtcTransport::new(
        TransportId::new("t1"),
        server_cert,
        vec![LocalSocket { id: SocketId(1), protocol: Protocol::Udp, local, announced_address: None, index: 0, preferred: false, expose_internal_ip: false }],
        false,
        30,
        600_000,
        &mut Rng::from_seed([3; 32]),
    );
    let peer_cert = LocalCertificate::generate().unwrap();
    let fingerprint = vec![Fingerprint {
        algorithm: "sha-256".into(),
        value: peer_cert.fingerprints[2]["value"].as_str().unwrap().into(),
    }];
    let tuple = Tuple { socket: SocketId(1), protocol: Protocol::Udp, local, remote: "127.0.0.1:50000".parse().unwrap() };
    (T { t, out: Outbox::default(), events: Vec::new(), transmits: Vec::new() }, Peer { dtls: DtlsTransport::new(peer_cert), fingerprint, tuple })
}

fn server_fingerprints(t: &T) -> Vec<Fingerprint> {
    let fp = &t.t.data_json()["dtlsParameters"]["fingerprints"][2];
    vec![Fingerprint { algorithm: fp["algorithm"].as_str().unwrap().into(), value: fp["value"].as_str().unwrap().into() }]
}

fn check(t: &mut T, p: &Peer, now: Instant, nominate: bool) {
    let data = t.t.data_json();
    let ufrag = data["iceParameters"]["usernameFragment"].as_str().unwrap();
    let pwd = data["iceParameters"]["password"].as_str().unwrap();
    let req = crate::net::ice::binding_request(ufrag, "peer", pwd, nominate, false);
    t.handle_datagram(now, p.tuple, &req);
}

/// Moves datagrams between transport and peer until quiet; returns the non-DTLS ones (STUN).
fn pump(t: &mut T, p: &mut Peer, now: Instant) -> Vec<Transmit> {
    let mut stun = Vec::new();
    for _ in 0..100 {
        let mut moved = false;
        for tx in std::mem::take(&mut t.transmits) {
            moved = true;
            assert_eq!((tx.socket, tx.to), (p.tuple.socket, p.tuple.remote));
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

#[test]
fn browser_flow_ice_dtls_srtp() {
    let (mut t, mut p) = setup();
    let now = Instant::now();
    let data = t.t.data_json();
    assert_eq!(data["iceRole"], "controlled");
    assert_eq!(data["iceState"], "new");
    assert_eq!(data["dtlsParameters"]["role"], "auto");
    assert_eq!(data["iceCandidates"][0]["priority"], 1076302079u32);
    assert_eq!(data["iceCandidates"][0]["foundation"], "udpcandidate");
    // The app connects first (mediasoup-client: DTLS client).
    let r = t.connect(now, json!({ "dtlsParameters": { "role": "client", "fingerprints": [
        { "algorithm": "sha-256", "value": p.fingerprint[0].value }] } })).unwrap();
    assert_eq!(r["dtlsLocalRole"], "server");
    assert_eq!(t.t.data_json()["dtlsParameters"]["role"], "server");
    // ICE: check, then nominate.
    check(&mut t, &p, now, false);
    assert_eq!(pump(&mut t, &mut p, now).len(), 1);
    check(&mut t, &p, now, true);
    pump(&mut t, &mut p, now);
    assert_eq!(t.t.ice_state(), IceState::Completed);
    // The creation answer written as text is the same JSON (here with a selected tuple and
    // other fields after it).
    let extra = json!({ "maxSendMessageSize": 262144, "sctpParameters": { "port": 5000 } });
    let mut expected = t.t.data_json();
    for (k, v) in extra.as_object().unwrap() {
        expected[k] = v.clone();
    }
    assert!(expected.get("iceSelectedTuple").is_some());
    assert_eq!(serde_json::from_str::<serde_json::Value>(&t.t.data_text(&extra)).unwrap(), expected);
    // Browser starts DTLS as client.
    p.dtls.set_remote_fingerprints(now, server_fingerprints(&t));
    p.dtls.run(now, Role::Client);
    pump(&mut t, &mut p, now);
    assert_eq!(p.dtls.state(), DtlsState::Connected);
    assert_eq!(t.t.dtls_state(), DtlsState::Connected);
    let events: Vec<String> = t.notifications().into_iter().map(|(e, d)| format!("{e}:{}", d.get("iceState").or(d.get("dtlsState")).map(|v| v.as_str().unwrap().to_string()).unwrap_or_default())).collect();
    assert_eq!(events, vec!["iceselectedtuplechange:", "icestatechange:connected", "dtlsstatechange:connecting", "icestatechange:completed", "dtlsstatechange:connected"]);
    // SRTP from the browser is decrypted; garbage and replays are dropped and counted.
    let mut srtp = p.dtls.take_srtp().unwrap();
    let mut rtp = vec![0x80, 96, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4];
    rtp.extend([9u8; 50]);
    let protected = srtp.encrypt_rtp(&rtp).unwrap();
    assert!(matches!(t.handle_datagram(now, p.tuple, &protected), Some(Received::Rtp(r)) if r == rtp));
    assert!(t.handle_datagram(now, p.tuple, &protected).is_none());
    assert_eq!(t.t.rtp_packets_received, 1);
    assert_eq!((t.t.drops.srtp, t.t.drops.srtp_replay), (0, 1), "a replay, counted as such");
    // From a tuple ICE never validated: dropped.
    let stranger = Tuple { remote: "127.0.0.1:50001".parse().unwrap(), ..p.tuple };
    t.handle_datagram(now, stranger, &protected);
    assert_eq!(t.t.drops.invalid_tuple, 1);
    let stats = [t.t.stats_json(now, &Clock::new(now, std::time::SystemTime::now()))];
    assert_eq!(stats[0]["type"], "webrtc-transport");
    assert_eq!(stats[0]["dtlsState"], "connected");
    assert!(stats[0]["bytesReceived"].as_u64().unwrap() > 0);
    assert_eq!(stats[0]["iceSelectedTuple"]["remotePort"], 50000);
    // Closing sends close_notify to the peer.
    t.t.close(now, &mut t.out);
    t.collect();
    pump(&mut t, &mut p, now);
    assert_eq!(p.dtls.state(), DtlsState::Closed);
}

#[test]
fn wrong_fingerprint_means_failed() {
    let (mut t, mut p) = setup();
    let now = Instant::now();
    t.connect(now, json!({ "dtlsParameters": { "role": "client", "fingerprints": [
        { "algorithm": "sha-256", "value": "AA:BB" }] } })).unwrap();
    check(&mut t, &p, now, true);
    pump(&mut t, &mut p, now);
    p.dtls.set_remote_fingerprints(now, server_fingerprints(&t));
    p.dtls.run(now, Role::Client);
    pump(&mut t, &mut p, now);
    assert_eq!(t.t.dtls_state(), DtlsState::Failed);
    assert!(t.notifications().iter().any(|(e, d)| e == "dtlsstatechange" && d["dtlsState"] == "failed"));
}

#[test]
fn connect_validation_and_roles() {
    let (mut t, _) = setup();
    let now = Instant::now();
    let e = t.connect(now, json!({ "dtlsParameters": { "fingerprints": [] } })).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Type);
    // Remote 'auto' (or 'server') → we are the DTLS client.
    let r = t.connect(now, json!({ "dtlsParameters": { "role": "auto", "fingerprints": [{ "algorithm": "sha-1", "value": "AA" }] } })).unwrap();
    assert_eq!(r["dtlsLocalRole"], "client");
    let e = t.connect(now, json!({ "dtlsParameters": { "role": "auto", "fingerprints": [{ "algorithm": "sha-1", "value": "AA" }] } })).unwrap_err();
    assert_eq!(e.message, "connect() already called");
}

#[test]
fn dtls_before_ice_and_garbage_are_dropped() {
    let (mut t, p) = setup();
    let now = Instant::now();
    t.handle_datagram(now, p.tuple, &[22u8; 40]);
    assert_eq!(t.t.drops.invalid_tuple, 1);
    t.handle_datagram(now, p.tuple, &[0xff; 40]);
    assert_eq!(t.t.drops.unknown, 1);
    t.handle_datagram(now, p.tuple, &[0u8; 20]);
    assert_eq!(t.t.drops.stun, 1);
    assert_eq!(t.t.ice_state(), IceState::New);
    assert!(t.transmits.is_empty());
}

#[test]
fn dtls_role_auto_runs_as_server_when_ice_connects_first() {
    let (mut t, mut p) = setup();
    let now = Instant::now();
    check(&mut t, &p, now, true);
    pump(&mut t, &mut p, now);
    assert_eq!(t.t.dtls_state(), DtlsState::Connecting);
    p.dtls.set_remote_fingerprints(now, server_fingerprints(&t));
    p.dtls.run(now, Role::Client);
    pump(&mut t, &mut p, now);
    // Handshake done but not verified: still connecting until connect() brings fingerprints.
    assert_eq!(t.t.dtls_state(), DtlsState::Connecting);
    t.connect(now, json!({ "dtlsParameters": { "role": "client", "fingerprints": [
        { "algorithm": "sha-256", "value": p.fingerprint[0].value }] } })).unwrap();
    assert_eq!(t.t.dtls_state(), DtlsState::Connected);
}

#[test]
fn a_peer_cannot_make_the_handshake_buffer_grow() {
    let (mut t, p) = setup();
    let now = Instant::now();
    check(&mut t, &p, now, true);
    assert_eq!(t.t.dtls_state(), DtlsState::Connecting);
    // ICE-authenticated, then DTLS records of the next epoch instead of a handshake: after the
    // handshake budget, DTLS datagrams are dropped (and counted) without reaching DTLS.
    let mut record = vec![23u8, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 0, 0x04, 0x00];
    record.extend(std::iter::repeat_n(0x5a, 1024));
    for i in 0..1000u32 {
        record[5..9].copy_from_slice(&i.to_be_bytes());
        t.handle_datagram(now, p.tuple, &record);
    }
    assert!(t.t.drops.over_limit >= 700, "{}", t.t.drops.over_limit);
    assert_ne!(t.t.dtls_state(), DtlsState::Connected);
}
