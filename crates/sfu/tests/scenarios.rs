//! Whole scenarios through one or two engines, in virtual time: a browser-like publisher and
//! viewers (ferrosoup-testpeer) over an emulated network. Each test prints how much faster than
//! real time it ran.

mod common;

use std::time::{Duration, Instant};

use common::*;
use ferrosoup_sfu::rtp::rtcp::{self, Feedback};
use ferrosoup_sfu::rtp::{self, VideoCodec};
use ferrosoup_testpeer::media::{Publisher, VideoConfig};
use ferrosoup_testpeer::receiver::{FrameAssembler, VideoReceiver};
use serde_json::{json, Value};

const PUB_SSRC: u32 = 1111;

/// Reports virtual vs wall time when dropped.
struct Speed(&'static str, Instant, Instant);

impl Speed {
    fn start(name: &'static str, w: &World) -> Self {
        Speed(name, Instant::now(), w.now)
    }
    fn report(&self, w: &World) {
        let wall = self.1.elapsed().as_secs_f64();
        let virt = (w.now - self.2).as_secs_f64();
        eprintln!("scenario {}: {:.1} s of virtual time in {:.3} s ({:.0}x real time)", self.0, virt, wall, virt / wall.max(1e-9));
    }
}

struct Room {
    e: usize,
    router: String,
    ip: String,
    /// Transports use this WebRtcServer's sockets.
    server: Option<String>,
}

fn room(w: &mut World, e: usize, id: &str, cache: Value) -> Room {
    w.request(e, "worker.createRouter", "", json!({ "routerId": id, "mediaCodecs": media_codecs(), "keyFrameCache": cache })).unwrap();
    Room { e, router: id.to_string(), ip: format!("10.0.0.{}", e + 1), server: None }
}

fn transport(w: &mut World, r: &Room, id: &str) -> Value {
    if let Some(server) = &r.server {
        return w.request(r.e, "router.createWebRtcTransportWithServer", &r.router, json!({ "transportId": id, "webRtcServerId": server })).unwrap();
    }
    w.request(r.e, "router.createWebRtcTransport", &r.router, json!({ "transportId": id, "listenInfos": [{ "protocol": "udp", "ip": r.ip }] })).unwrap()
}

/// A publisher peer sending VP8 (key frames every `key_interval` frames or on request).
fn publisher(w: &mut World, r: &Room, key_interval: u32) -> usize {
    let t = transport(w, r, "pub-t");
    let p = w.add_peer(r.e, "pub-t", &t);
    w.request(r.e, "transport.produce", "pub-t", json!({ "producerId": "cam", "kind": "video", "rtpParameters": vp8_producer(PUB_SSRC) })).unwrap();
    let cfg = VideoConfig { ssrc: PUB_SSRC, payload_type: 96, kbps: 800, fps: 30, key_interval, browser_sizes: false };
    w.peers[p].publisher = Some(Publisher::new(w.now, Some(cfg), None, 65_000));
    p
}

/// A viewer peer consuming producer `producer`; returns (peer, consumer parameters).
fn viewer(w: &mut World, r: &Room, name: &str, producer: &str) -> (usize, Value) {
    let tid = format!("{name}-t");
    let t = transport(w, r, &tid);
    let c = w.request(r.e, "transport.consume", &tid, json!({ "consumerId": name, "producerId": producer, "rtpCapabilities": viewer_caps() })).unwrap();
    let p = w.add_peer(r.e, &tid, &t);
    (p, c)
}

/// When the peer's first complete key frame of `ssrc` arrived.
fn first_key_frame(w: &World, p: usize, ssrc: u32) -> Option<Instant> {
    let mut f = FrameAssembler::default();
    for (at, d) in &w.peers[p].rtp {
        let Some(pkt) = rtp::parse(d) else { continue };
        if pkt.header.ssrc != ssrc {
            continue;
        }
        if f.push(pkt.header.sequence_number, pkt.header.marker, rtp::is_key_frame(VideoCodec::Vp8, &pkt.payload)) {
            return Some(*at);
        }
    }
    None
}

/// Key frame requests (PLI/FIR) the publisher peer received since `since`.
fn key_frame_requests(w: &World, p: usize, since: Instant) -> usize {
    w.peers[p]
        .rtcp
        .iter()
        .filter(|(at, _)| *at >= since)
        .flat_map(|(_, d)| rtcp::parse(d).unwrap_or_default())
        .filter(|f| matches!(f, Feedback::Pli { .. } | Feedback::Fir { .. }))
        .count()
}

fn ssrc_of(consumer: &Value) -> u32 {
    consumer["rtpParameters"]["encodings"][0]["ssrc"].as_u64().unwrap() as u32
}

#[test]
fn a_viewer_joining_starts_from_the_key_frame_cache_without_asking_the_publisher() {
    let mut w = World::new();
    let speed = Speed::start("join from cache", &w);
    let e = w.add_engine();
    // A cache long enough not to need refreshing during the test (refreshes are requests too).
    let r = room(&mut w, e, "r1", json!({ "maxDurationMs": 10000 }));
    // Key frames every 5 s: a viewer would otherwise wait seconds for the next one.
    let pubp = publisher(&mut w, &r, 150);
    w.run_for(Duration::from_millis(1500));
    assert!(w.peers[pubp].connected_at.is_some(), "the publisher connected");
    let joined = w.now;
    let (v, c) = viewer(&mut w, &r, "v1", "cam");
    let ssrc = ssrc_of(&c);
    assert!(w.run_until_cond(Duration::from_secs(3), |w| first_key_frame(w, v, ssrc).is_some()), "the viewer got a complete key frame");
    let first = first_key_frame(&w, v, ssrc).unwrap();
    let connected = w.peers[v].connected_at.unwrap();
    // The first frame arrives right after the viewer's connection is up (one network delay),
    // long before the publisher's next key frame (at 5 s), and nobody asked the publisher.
    assert!(first - connected <= Duration::from_millis(30), "first frame {:?} after connecting", first - connected);
    assert!(first - joined < Duration::from_secs(1));
    w.run_for(Duration::from_secs(1));
    assert_eq!(key_frame_requests(&w, pubp, joined), 0, "no key frame request reached the publisher");
    // Live media follows the replay without a gap in the viewer's sequence numbers.
    let seqs: Vec<u16> = w.peers[v].rtp.iter().filter_map(|(_, d)| rtp::parse(d)).filter(|p| p.header.ssrc == ssrc).map(|p| p.header.sequence_number).collect();
    assert!(seqs.len() > 50);
    let mut sorted: Vec<i64> = {
        let mut u = rtp::SeqUnwrapper::default();
        seqs.iter().map(|s| u.unwrap(*s)).collect()
    };
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len() as i64, sorted.last().unwrap() - sorted[0] + 1, "no gaps");
    speed.report(&w);
}

#[test]
fn nacks_repair_five_percent_loss_towards_a_viewer_with_rtx() {
    let mut w = World::new();
    let speed = Speed::start("NACK/RTX under 5% loss", &w);
    let e = w.add_engine();
    let r = room(&mut w, e, "r1", json!({}));
    let pubp = publisher(&mut w, &r, 60);
    w.run_for(Duration::from_millis(500));
    let (v, c) = viewer(&mut w, &r, "v1", "cam");
    let ssrc = ssrc_of(&c);
    let rtx_ssrc = c["rtpParameters"]["encodings"][0]["rtx"]["ssrc"].as_u64().unwrap() as u32;
    let rtx_pt = c["rtpParameters"]["codecs"].as_array().unwrap().iter().find(|x| x["mimeType"] == "video/rtx").unwrap()["payloadType"].as_u64().unwrap() as u8;
    let media_pt = c["rtpParameters"]["codecs"][0]["payloadType"].as_u64().unwrap() as u8;
    // 5% of everything towards the viewer is lost (media, retransmissions, reports alike).
    let viewer_addr = w.peers[v].addr;
    w.links.insert(viewer_addr, LinkConfig { loss: 0.05, ..LinkConfig::default() });
    let recv = std::rc::Rc::new(std::cell::RefCell::new(VideoReceiver::new(ssrc, media_pt, Some((rtx_ssrc, rtx_pt)), VideoCodec::Vp8)));
    let r1 = recv.clone();
    w.peers[v].on_rtp = Some(Box::new(move |now, d| {
        if let Some(p) = rtp::parse(d) {
            r1.borrow_mut().push(now, p);
        }
        Vec::new()
    }));
    let r2 = recv.clone();
    w.peers[v].on_tick = Some(Box::new(move |now| {
        let due = r2.borrow_mut().nacks_due(now);
        if due.is_empty() {
            return Vec::new();
        }
        rtcp::marshal(&[rtcp::nack(7, ssrc, &due)]).into_iter().collect()
    }));
    w.run_for(Duration::from_secs(10));
    // The publisher stops; what was still missing gets its last chances.
    w.peers[pubp].publisher = None;
    w.run_for(Duration::from_secs(1));
    let (sent, lost) = w.link_counts(viewer_addr);
    assert!(lost * 100 / sent >= 3, "the link lost {lost} of {sent}");
    let rx = recv.borrow();
    assert!(rx.packets > 1000, "{}", rx.packets);
    assert!(rx.repaired > 20, "repaired {}", rx.repaired);
    assert_eq!(rx.holes(), 0, "every lost packet was repaired ({} missing)", rx.missing());
    let stats = w.request(e, "consumer.getStats", "v1", Value::Null).unwrap();
    assert!(stats[0]["packetsRetransmitted"].as_u64().unwrap() >= rx.repaired);
    assert!(stats[0]["nackCount"].as_u64().unwrap() > 0);
    speed.report(&w);
}

#[test]
fn key_frame_requests_from_many_viewers_merge() {
    let mut w = World::new();
    let speed = Speed::start("PLI/FIR merging", &w);
    let e = w.add_engine();
    // Without a cache, viewers' requests go to the publisher: merged there.
    let r = room(&mut w, e, "r1", json!(false));
    let pubp = publisher(&mut w, &r, 300);
    w.run_for(Duration::from_millis(500));
    let mut viewers = Vec::new();
    for i in 0..10 {
        let (v, c) = viewer(&mut w, &r, &format!("v{i}"), "cam");
        viewers.push((v, ssrc_of(&c)));
    }
    assert!(w.run_until_cond(Duration::from_secs(3), |w| viewers.iter().all(|(v, s)| first_key_frame(w, *v, *s).is_some())), "every viewer started");
    w.run_for(Duration::from_secs(1));
    // All ten ask for a key frame at once (PLI, and FIR too), twice.
    let asked = w.now;
    for round in 0..2 {
        for (v, ssrc) in &viewers {
            let fb = if round == 0 { rtcp::pli(9, *ssrc) } else { rtcp::fir(9, *ssrc, 1) };
            let data = rtcp::marshal(&[fb]).unwrap();
            w.peers[*v].peer.send_rtcp(&data);
        }
        w.run_for(Duration::from_millis(5));
    }
    w.run_for(Duration::from_millis(200));
    assert_eq!(key_frame_requests(&w, pubp, asked), 1, "one request reached the publisher");
    // With a cache the same burst is served without the publisher.
    let mut w2 = World::new();
    let e2 = w2.add_engine();
    let r2 = room(&mut w2, e2, "r2", json!({ "maxDurationMs": 10000 }));
    let pub2 = publisher(&mut w2, &r2, 300);
    w2.run_for(Duration::from_millis(500));
    let (v2, c2) = viewer(&mut w2, &r2, "v", "cam");
    let s2 = ssrc_of(&c2);
    assert!(w2.run_until_cond(Duration::from_secs(3), |w| first_key_frame(w, v2, s2).is_some()));
    w2.run_for(Duration::from_millis(1500));
    let asked = w2.now;
    // Twenty requests within 200 ms: one replay from the cache, the rest go to the publisher,
    // merged (requests to a sender are at least 250 ms apart).
    for _ in 0..20 {
        let data = rtcp::marshal(&[rtcp::pli(9, s2)]).unwrap();
        w2.peers[v2].peer.send_rtcp(&data);
        w2.run_for(Duration::from_millis(10));
    }
    w2.run_for(Duration::from_millis(100));
    let plis = w2.request(e2, "consumer.getStats", "v", Value::Null).unwrap()[0]["pliCount"].as_u64().unwrap();
    assert_eq!(plis, 20);
    let times: Vec<Instant> = w2.peers[pub2]
        .rtcp
        .iter()
        .filter(|(at, d)| *at >= asked && rtcp::parse(d).unwrap_or_default().iter().any(|f| matches!(f, Feedback::Pli { .. })))
        .map(|(at, _)| *at)
        .collect();
    assert!(!times.is_empty() && times.len() <= 2, "{} requests", times.len());
    for pair in times.windows(2) {
        assert!(pair[1] - pair[0] >= Duration::from_millis(250), "requests {:?} apart", pair[1] - pair[0]);
    }
    speed.report(&w);
}

#[test]
fn a_pipe_between_two_engines_carries_a_broadcast_to_a_viewer_on_the_other() {
    let mut w = World::new();
    let speed = Speed::start("pipe between engines", &w);
    let a = w.add_engine();
    let b = w.add_engine();
    let ra = room(&mut w, a, "ra", json!({}));
    let rb = room(&mut w, b, "rb", json!({}));
    let pubp = publisher(&mut w, &ra, 90);
    w.run_for(Duration::from_millis(300));
    let pa = w.request(a, "router.createPipeTransport", "ra", json!({ "transportId": "pa", "listenInfo": { "protocol": "udp", "ip": "10.0.0.1" }, "enableSrtp": true })).unwrap();
    let pb = w.request(b, "router.createPipeTransport", "rb", json!({ "transportId": "pb", "listenInfo": { "protocol": "udp", "ip": "10.0.0.2" }, "enableSrtp": true })).unwrap();
    w.request(a, "pipeTransport.connect", "pa", json!({ "ip": "10.0.0.2", "port": pb["tuple"]["localPort"], "srtpParameters": pb["srtpParameters"] })).unwrap();
    w.request(b, "pipeTransport.connect", "pb", json!({ "ip": "10.0.0.1", "port": pa["tuple"]["localPort"], "srtpParameters": pa["srtpParameters"] })).unwrap();
    let pc = w.request(a, "transport.consume", "pa", json!({ "consumerId": "pipe-c", "producerId": "cam", "rtpCapabilities": {} })).unwrap();
    assert_eq!(pc["type"], "pipe");
    w.request(b, "transport.produce", "pb", json!({ "producerId": "cam", "kind": "video", "rtpParameters": pc["rtpParameters"] })).unwrap();
    let (v, c) = viewer(&mut w, &rb, "v", "cam");
    let ssrc = ssrc_of(&c);
    assert!(w.run_until_cond(Duration::from_secs(5), |w| first_key_frame(w, v, ssrc).is_some()), "the viewer behind the pipe got a key frame");
    w.run_for(Duration::from_secs(1));
    let got = w.peers[v].rtp.len();
    assert!(got > 100, "{got}");
    // B asked for that key frame through the pipe; A passed it to the publisher.
    assert!(key_frame_requests(&w, pubp, w.t0) >= 1);
    // Closing the producer on A closes the pipe consumer; B's producer is the app's to close.
    w.request(a, "transport.closeProducer", "pub-t", json!({ "producerId": "cam" })).unwrap();
    assert_eq!(w.events(a, "pipe-c", "producerclose").len(), 1);
    speed.report(&w);
}

#[test]
fn closing_cascades_to_producers_consumers_and_sockets() {
    let mut w = World::new();
    let speed = Speed::start("close cascades", &w);
    let e = w.add_engine();
    let r = room(&mut w, e, "r1", json!({}));
    publisher(&mut w, &r, 90);
    let (_, _) = viewer(&mut w, &r, "v1", "cam");
    let (_, _) = viewer(&mut w, &r, "v2", "cam");
    w.run_for(Duration::from_secs(1));
    // A viewer's transport closes: its consumer goes silently, the others stay.
    w.request(e, "router.closeTransport", "r1", json!({ "transportId": "v1-t" })).unwrap();
    assert!(w.request(e, "consumer.dump", "v1", Value::Null).is_err());
    assert!(w.request(e, "consumer.dump", "v2", Value::Null).is_ok());
    assert!(w.events(e, "v1", "producerclose").is_empty());
    // The publisher's transport closes: its producer goes, and its consumers hear producerclose.
    w.request(e, "router.closeTransport", "r1", json!({ "transportId": "pub-t" })).unwrap();
    assert_eq!(w.events(e, "v2", "producerclose").len(), 1);
    assert!(w.request(e, "producer.dump", "cam", Value::Null).is_err());
    let dump = w.request(e, "router.dump", "r1", Value::Null).unwrap();
    assert_eq!(dump["mapProducerIdConsumerIds"], json!([]));
    assert_eq!(dump["transportIds"], json!(["v2-t"]));
    // The router closes: everything goes, and every socket is handed back.
    w.request(e, "worker.closeRouter", "", json!({ "routerId": "r1" })).unwrap();
    let worker = w.request(e, "worker.dump", "", Value::Null).unwrap();
    assert_eq!(worker["routerIds"], json!([]));
    assert_eq!(worker["channelMessageHandlers"]["channelRequestHandlers"], json!([]));
    assert!(w.request(e, "transport.dump", "v2-t", Value::Null).is_err());
    // Media still arriving for the closed transports is dropped without effect.
    w.run_for(Duration::from_secs(1));
    speed.report(&w);
}

/// A client's address can change hands while the transport of its last holder is still open
/// (an ephemeral port reused after a viewer closed its socket, a NAT mapping given to another
/// client): the newcomer's checks name its own transport and must reach it, not wait for the
/// old transport's consent to expire (30 s).
#[test]
fn a_newcomer_on_a_departed_peers_address_plays_at_once() {
    let mut w = World::new();
    let e = w.add_engine();
    w.request(e, "worker.createWebRtcServer", "", json!({ "webRtcServerId": "srv", "listenInfos": [{ "protocol": "udp", "ip": "10.0.0.1", "port": 44444 }] })).unwrap();
    let mut r = room(&mut w, e, "r1", json!({}));
    r.server = Some("srv".into());
    publisher(&mut w, &r, 60);
    let (old, c) = viewer(&mut w, &r, "v0", "cam");
    let old_ssrc = ssrc_of(&c);
    assert!(w.run_until_cond(Duration::from_secs(5), |w| first_key_frame(w, old, old_ssrc).is_some()), "the first viewer plays");
    // Its socket closes; its transport stays open. A newcomer gets its address.
    w.peers[old].gone = true;
    let addr = w.peers[old].addr;
    let t = transport(&mut w, &r, "v9-t");
    let c = w.request(e, "transport.consume", "v9-t", json!({ "consumerId": "v9", "producerId": "cam", "rtpCapabilities": viewer_caps() })).unwrap();
    let p = w.add_peer_at(e, "v9-t", &t, Some(addr));
    let ssrc = ssrc_of(&c);
    let t0 = w.now;
    assert!(w.run_until_cond(Duration::from_secs(3), |w| first_key_frame(w, p, ssrc).is_some()), "the newcomer plays within 3 s, not after the old consent expires");
    assert!(w.peers[p].connected_at.is_some_and(|at| at.saturating_duration_since(t0) < Duration::from_secs(1)));
}

#[test]
fn one_webrtc_server_socket_carries_every_peer_of_a_room() {
    let mut w = World::new();
    let speed = Speed::start("WebRtcServer", &w);
    let e = w.add_engine();
    w.request(e, "worker.createWebRtcServer", "", json!({ "webRtcServerId": "srv", "listenInfos": [{ "protocol": "udp", "ip": "10.0.0.1", "port": 44444 }] })).unwrap();
    let mut r = room(&mut w, e, "r1", json!({}));
    r.server = Some("srv".into());
    let pubp = publisher(&mut w, &r, 60);
    let viewers: Vec<(usize, u32)> = (0..4).map(|i| {
        let (p, c) = viewer(&mut w, &r, &format!("v{i}"), "cam");
        (p, ssrc_of(&c))
    }).collect();
    for p in std::iter::once(pubp).chain(viewers.iter().map(|v| v.0)) {
        assert_eq!(w.peers[p].peer.server_addr().to_string(), "10.0.0.1:44444", "every peer talks to the one socket");
    }
    let all_play = |w: &World, viewers: &[(usize, u32)]| viewers.iter().all(|(p, ssrc)| first_key_frame(w, *p, *ssrc).is_some());
    assert!(w.run_until_cond(Duration::from_secs(5), |w| all_play(w, &viewers)), "every viewer got a key frame");
    let dump = w.request(e, "webRtcServer.dump", "srv", Value::Null).unwrap();
    assert_eq!(dump["udpSockets"], json!([{ "ip": "10.0.0.1", "port": 44444 }]));
    assert_eq!(dump["webRtcTransportIds"].as_array().unwrap().len(), 5);
    assert_eq!(dump["localIceUsernameFragments"].as_array().unwrap().len(), 5);
    assert_eq!(dump["localIceUsernameFragments"][0]["localIceUsernameFragment"].as_str().unwrap().len(), 32);

    // A viewer's transport closes: the socket stays, the others keep receiving.
    w.request(e, "router.closeTransport", "r1", json!({ "transportId": "v0-t" })).unwrap();
    let before = w.peers[viewers[1].0].rtp.len();
    w.run_for(Duration::from_secs(1));
    assert!(w.peers[viewers[1].0].rtp.len() > before + 20, "the others still receive");
    let dump = w.request(e, "webRtcServer.dump", "srv", Value::Null).unwrap();
    assert_eq!(dump["webRtcTransportIds"].as_array().unwrap().len(), 4);

    // ICE restart: the old ufrag stays routable until the peer uses the new one.
    let params = w.request(e, "transport.restartIce", "v1-t", Value::Null).unwrap();
    let dump = w.request(e, "webRtcServer.dump", "srv", Value::Null).unwrap();
    assert_eq!(dump["localIceUsernameFragments"].as_array().unwrap().iter().filter(|u| u["webRtcTransportId"] == "v1-t").count(), 2);
    assert_eq!(params["usernameFragment"].as_str().unwrap().len(), 32);

    // The server closes: its transports go with it (producer and consumers too), then its socket.
    w.request(e, "worker.closeWebRtcServer", "", json!({ "webRtcServerId": "srv" })).unwrap();
    let worker = w.request(e, "worker.dump", "", Value::Null).unwrap();
    assert_eq!(worker["webRtcServerIds"], json!([]));
    assert_eq!(worker["channelMessageHandlers"]["channelRequestHandlers"], json!(["r1"]));
    assert!(w.request(e, "transport.dump", "v2-t", Value::Null).is_err());
    assert!(w.request(e, "producer.dump", "cam", Value::Null).is_err());
    let err = w.request(e, "worker.closeWebRtcServer", "", json!({ "webRtcServerId": "srv" })).unwrap_err();
    assert_eq!(err.message, "WebRtcServer not found [method:WORKER_WEBRTCSERVER_CLOSE]");
    // Its socket was handed back; what peers still send to it goes nowhere.
    assert!(!w.engines[e].by_addr.contains_key(&"10.0.0.1:44444".parse().unwrap()));
    w.run_for(Duration::from_secs(1));
    speed.report(&w);
}

/// DTLS handshakes run as jobs off the engine's thread and come back late (40 ms, as from a
/// busy pool): publisher and viewers connect, the viewers play from the cache, and a transport
/// closed while its handshake is away takes the late job without effect.
#[test]
fn handshakes_off_the_engines_thread_connect_peers_that_then_play() {
    let mut w = World::new();
    w.handshake_delay = Some(Duration::from_millis(40));
    let e = w.add_engine();
    let r = room(&mut w, e, "r1", json!({ "maxDurationMs": 10000 }));
    let pubp = publisher(&mut w, &r, 60);
    let viewers: Vec<(usize, u32)> = ["v1", "v2", "v3"].iter().map(|n| {
        let (p, c) = viewer(&mut w, &r, n, "cam");
        (p, ssrc_of(&c))
    }).collect();
    assert!(
        w.run_until_cond(Duration::from_secs(5), |w| viewers.iter().all(|(p, ssrc)| first_key_frame(w, *p, *ssrc).is_some())),
        "every viewer plays"
    );
    assert!(w.peers[pubp].connected_at.is_some());
    // Each handshake went out at least once (the client's flights may have joined one job).
    assert!(w.handshakes_run >= 4, "{} handshake jobs", w.handshakes_run);
    let connected = w.events(e, "v1-t", "dtlsstatechange");
    assert_eq!(connected.iter().map(|d| d["dtlsState"].as_str().unwrap().to_string()).collect::<Vec<_>>(), ["connecting", "connected"]);
    // A viewer whose transport closes while its handshake is away.
    let (late, _) = viewer(&mut w, &r, "v4", "cam");
    let before = w.handshakes_run;
    assert!(w.run_until_cond(Duration::from_secs(2), |w| w.handshakes_pending() > 0), "the newcomer's handshake went out");
    w.request(e, "router.closeTransport", "r1", json!({ "transportId": "v4-t" })).unwrap();
    w.run_for(Duration::from_millis(500));
    assert!(w.handshakes_run > before, "the late job came back");
    assert!(w.peers[late].connected_at.is_none());
    assert!(w.events(e, "v4-t", "dtlsstatechange").iter().all(|d| d["dtlsState"] != "connected"));
    // The others play on.
    let (v1, ssrc1) = viewers[0];
    let n = w.peers[v1].rtp.iter().filter(|(_, d)| rtp::parse(d).is_some_and(|p| p.header.ssrc == ssrc1)).count();
    w.run_for(Duration::from_millis(500));
    let m = w.peers[v1].rtp.iter().filter(|(_, d)| rtp::parse(d).is_some_and(|p| p.header.ssrc == ssrc1)).count();
    assert!(m > n + 10, "{n} then {m} packets");
}
