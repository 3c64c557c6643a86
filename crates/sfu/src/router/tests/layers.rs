//! Simulcast in virtual time: a 3-layer VP8 sender (≈ 150 k / 500 k / 1.5 Mbit/s, three
//! temporal layers each), viewers with different preferred layers, priorities and budgets.

use super::*;
use crate::router::consumer::vp8::Descriptor;

const SSRCS: [u32; 3] = [5000, 5001, 5002];
/// Packets per frame and bytes per packet of each layer (30 fps).
const SHAPE: [(usize, usize); 3] = [(1, 560), (2, 950), (6, 1000)];
const TIDS: [u8; 4] = [0, 2, 1, 2];

fn simulcast_params() -> Value {
    let mut p = vp8_params();
    p["encodings"] = json!(SSRCS.iter().map(|s| json!({ "ssrc": s, "scalabilityMode": "L1T3" })).collect::<Vec<_>>());
    p
}

/// One frame of layer `s`: its packets (VP8 descriptor with picture id, TL0PICIDX and TID;
/// then stream and frame numbers for the test to recognise them).
fn frame(s: usize, n: u32, key: bool, seq: &mut u16) -> Vec<Vec<u8>> {
    let (count, size) = SHAPE[s];
    let tid = if key { 0 } else { TIDS[n as usize % 4] };
    let pid = (1000 * s as u32 + n) as u16 & 0x7fff;
    let tl0 = (n / 4 + 7 * s as u32) as u8;
    // Each stream has its own timestamp base.
    let ts = 1_000_000u32.wrapping_mul(s as u32 + 1).wrapping_add(n * 3000);
    (0..count)
        .map(|i| {
            let first = i == 0;
            let mut payload = vec![if first { 0x90 } else { 0x80 }, 0xe0, 0x80 | (pid >> 8) as u8, pid as u8, tl0, tid << 6 | 0x20];
            payload.push(if key && first { 0x00 } else { 0x01 });
            payload.push(s as u8);
            payload.extend_from_slice(&n.to_be_bytes());
            payload.resize(size, 0);
            *seq = seq.wrapping_add(1);
            crate::rtp::marshal(&Packet {
                header: Header { version: 2, payload_type: 96, sequence_number: *seq, timestamp: ts, ssrc: SSRCS[s], marker: i + 1 == count, ..Default::default() },
                payload: Bytes::from(payload),
            })
            .unwrap()
        })
        .collect()
}

/// What a viewer received, packet by packet: (seq, ts, layer, frame, picture id, tl0, tid).
#[derive(Debug, Clone, Copy)]
struct Got {
    seq: u16,
    ts: u32,
    layer: u8,
    frame: u32,
    pid: u16,
    tl0: u8,
    tid: u8,
    first: bool,
}

fn got(p: &Packet) -> Got {
    let d = Descriptor::parse(&p.payload).unwrap();
    let b = &p.payload[8..12];
    Got {
        seq: p.header.sequence_number,
        ts: p.header.timestamp,
        layer: p.payload[7],
        frame: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        pid: d.picture_id.unwrap().0,
        tl0: d.tl0.unwrap().0,
        tid: d.tid.unwrap().0,
        first: p.payload[0] & 0x10 != 0,
    }
}

struct Sim {
    h: H,
    t0: Instant,
    seqs: [u16; 3],
    /// Per transport: what video arrived, and the count of audio packets.
    video: HashMap<String, Vec<Got>>,
    audio: HashMap<String, usize>,
    events: Vec<(String, &'static str, Value)>,
    audio_seq: u16,
    /// Send sender reports; delay of each layer's packets (network), in ms.
    reports: bool,
    delay_ms: [u64; 3],
    frames: u32,
    /// A viewer on transport `net` behind an emulated path.
    net: Option<Viewer>,
}

/// A viewer behind a bottleneck: what the router sends it crosses `path`; it reports arrivals
/// with transport-cc feedback every 50 ms, as Chromium does.
struct Viewer {
    path: Path,
    twcc_id: u8,
    arrivals: std::collections::VecDeque<(Instant, Vec<u8>)>,
    recorder: TwccRecorder,
    /// The layer of the last video packet that arrived.
    layer: Option<u8>,
    /// Audio packets that arrived.
    audio: usize,
}

impl Sim {
    fn new(reports: bool, delay_ms: [u64; 3]) -> Sim {
        let mut h = router();
        h.produce("send", &json!({ "producerId": "v", "kind": "video", "rtpParameters": simulcast_params(), "keyFrameCache": false })).unwrap();
        h.produce("send", &json!({ "producerId": "a", "kind": "audio", "rtpParameters": opus_params(77) })).unwrap();
        Sim { h, t0: Instant::now(), seqs: [100, 20_000, 40_000], video: HashMap::new(), audio: HashMap::new(), events: Vec::new(), audio_seq: 0, reports, delay_ms, frames: 0, net: None }
    }

    fn viewer(&mut self, transport: &str, cid: &str, producer: &str, extra: Value) -> Value {
        if !self.h.names.contains_key(transport) {
            self.h.add_transport(transport);
        }
        if !self.h.transports[self.h.tk(transport)].media.connected {
            self.h.transport_connected(self.t0, transport);
        }
        let caps = self.h.r.rtp_capabilities.clone();
        let mut req = json!({ "consumerId": cid, "producerId": producer, "rtpCapabilities": caps });
        for (k, v) in extra.as_object().unwrap() {
            req[k] = v.clone();
        }
        self.h.consume(self.t0, transport, &req).unwrap()
    }

    fn budget(&mut self, transport: &str, bps: u64) {
        let tk = self.h.tk(transport);
        self.h.transports[tk].media.bitrates.set_max_outgoing(bps).unwrap();
    }

    /// Runs `ms` more of virtual time: frames every 33⅓ ms on every layer (key frames when a
    /// key frame was requested, and every 3 s), audio every 20 ms, ticks every 20 ms, an SR per
    /// layer every second.
    fn run(&mut self, ms: u64) {
        let start = self.frames as u64 * 100 / 3;
        let mut key_wanted = [true; 3];
        let mut pending: Vec<(Instant, Vec<u8>)> = Vec::new();
        for t in start..start + ms {
            let now = self.t0 + Duration::from_millis(t);
            if t * 3 >= u64::from(self.frames) * 100 {
                let n = self.frames;
                self.frames += 1;
                for s in 0..3 {
                    let key = key_wanted[s] || n % 90 == 0;
                    key_wanted[s] = false;
                    for p in frame(s, n, key, &mut self.seqs[s]) {
                        pending.push((now + Duration::from_millis(self.delay_ms[s]), p));
                    }
                    if self.reports && n % 30 == 0 {
                        // Capture clock: NTP = 1000 s + frame time; RTP of the frame.
                        let ntp = (1000u64 << 32) + ((u64::from(n) << 32) / 30);
                        let ts = 1_000_000u32.wrapping_mul(s as u32 + 1).wrapping_add(n * 3000);
                        let sr = rtcp::marshal(&[rtcp::sender_report(SSRCS[s], ntp, ts, 0, 0)]).unwrap();
                        pending.push((now + Duration::from_millis(self.delay_ms[s]), sr));
                    }
                }
            }
            if t % 20 == 0 {
                self.audio_seq += 1;
                self.h.on_rtp(now, "send", &opus(77, self.audio_seq, 30));
            }
            pending.sort_by_key(|(at, _)| *at);
            while pending.first().is_some_and(|(at, _)| *at <= now) {
                let (_, data) = pending.remove(0);
                if data[1] == 200 {
                    self.h.on_rtcp(now, "send", &data);
                } else {
                    self.h.on_rtp(now, "send", &data);
                }
            }
            if t % 20 == 0 {
                self.h.tick(now);
            }
            if let Some(v) = self.net.as_mut() {
                while v.arrivals.front().is_some_and(|(at, _)| *at <= now) {
                    let (at, data) = v.arrivals.pop_front().unwrap();
                    let Some(p) = crate::rtp::parse(&data) else { continue };
                    if let Some(x) = crate::rtp::ext_value(&p, Some(v.twcc_id)).filter(|x| x.len() == 2) {
                        v.recorder.record(u16::from_be_bytes([x[0], x[1]]), at);
                    }
                    match p.payload.len() {
                        0 => {}
                        n if n < 12 => v.audio += 1,
                        _ => v.layer = Some(p.payload[7]),
                    }
                }
                if t % 50 == 0 {
                    if let Some(fb) = v.recorder.feedback(1, 2) {
                        let data = rtcp::marshal(&[Box::new(fb)]).unwrap();
                        self.h.on_rtcp(now, "net", &data);
                    }
                }
            }
            for o in outputs(&mut self.h) {
                match o {
                    Output::Rtp { transport_id, data } if transport_id == "net" && self.net.is_some() => {
                        let v = self.net.as_mut().unwrap();
                        if let Some(arrival) = v.path.pass((t * 1000) as i64, data.len()) {
                            v.arrivals.push_back((self.t0 + Duration::from_micros(arrival as u64), data));
                        }
                    }
                    Output::Rtp { transport_id, data } => {
                        let p = crate::rtp::parse(&data).unwrap();
                        if p.payload.len() < 12 {
                            *self.audio.entry(transport_id).or_default() += 1;
                        } else {
                            self.video.entry(transport_id).or_default().push(got(&p));
                        }
                    }
                    Output::Rtcp { data, .. } => {
                        for fb in rtcp::parse(&data).unwrap_or_default() {
                            if let Feedback::Pli { media_ssrc } | Feedback::Fir { media_ssrc } = fb {
                                if let Some(s) = SSRCS.iter().position(|x| *x == media_ssrc) {
                                    key_wanted[s] = true;
                                }
                            }
                        }
                    }
                    Output::Notify { target, event, data } => self.events.push((target, event, data)),
                }
            }
        }
    }

    fn take(&mut self, transport: &str) -> Vec<Got> {
        self.video.remove(transport).unwrap_or_default()
    }

    fn layerschanges(&mut self, cid: &str) -> Vec<Value> {
        let list = self.events.iter().filter(|(t, e, _)| t == cid && *e == "layerschange").map(|(_, _, d)| d.clone()).collect();
        self.events.retain(|(t, e, _)| !(t == cid && *e == "layerschange"));
        list
    }
}

/// The viewer sees one continuous stream: sequence numbers +1 (one number may be left out at a
/// switch after a frame cut short), timestamps never backwards, picture ids +1 per picture and
/// TL0PICIDX +0/+1.
fn assert_continuous(list: &[Got]) {
    for w in list.windows(2) {
        let (a, b) = (w[0], w[1]);
        let dseq = b.seq.wrapping_sub(a.seq);
        assert!(dseq == 1 || (dseq == 2 && a.layer != b.layer), "sequence {a:?} → {b:?}");
        assert!((b.ts.wrapping_sub(a.ts) as i32) >= 0, "timestamp backwards {a:?} → {b:?}");
        let dpid = b.pid.wrapping_sub(a.pid) & 0x7fff;
        assert!(dpid <= 1, "picture id {a:?} → {b:?}");
        assert_eq!(dpid == 1, b.first && (a.frame != b.frame || a.layer != b.layer), "a new picture is +1 {a:?} → {b:?}");
        assert!(b.tl0.wrapping_sub(a.tl0) <= 1, "tl0 {a:?} → {b:?}");
    }
}

#[test]
fn viewers_get_the_layers_their_preferences_and_budgets_give() {
    let mut sim = Sim::new(true, [0; 3]);
    let reply = sim.viewer("recv", "top", "v", json!({}));
    assert_eq!(reply["type"], "simulcast");
    assert_eq!(reply["preferredLayers"], json!({ "spatialLayer": 2, "temporalLayer": 2 }));
    sim.viewer("low", "low", "v", json!({ "preferredLayers": { "spatialLayer": 0 } }));
    sim.viewer("t0", "t0", "v", json!({ "preferredLayers": { "spatialLayer": 2, "temporalLayer": 0 } }));
    sim.viewer("capped", "capped", "v", json!({}));
    sim.budget("capped", 250_000);
    sim.viewer("tight", "tight-a", "a", json!({}));
    sim.viewer("tight", "tight-v", "v", json!({}));
    sim.budget("tight", 100_000);
    sim.run(3000);
    for t in ["recv", "low", "t0", "capped", "tight"] {
        sim.take(t);
    }
    *sim.audio.get_mut("tight").unwrap() = 0;
    sim.run(3000);
    let only = |list: &[Got], layer: u8| list.iter().all(|g| g.layer == layer) && !list.is_empty();
    let top = sim.take("recv");
    assert!(only(&top, 2), "top: {:?}", top.iter().map(|g| g.layer).collect::<std::collections::BTreeSet<_>>());
    assert_continuous(&top);
    // Every picture of every temporal layer: 90 frames × 6 packets.
    assert_eq!(top.len(), 90 * 6);
    let low = sim.take("low");
    assert!(only(&low, 0));
    assert_continuous(&low);
    let t0 = sim.take("t0");
    assert!(only(&t0, 2));
    assert!(t0.iter().all(|g| g.tid == 0), "temporal layer 0 only");
    assert_eq!(t0.len(), 90 / 4 * 6 + 6, "one picture in four");
    assert_continuous(&t0);
    let capped = sim.take("capped");
    assert!(only(&capped, 0), "250 kbit/s holds layer 0 only");
    assert_continuous(&capped);
    // Below the lowest layer plus audio: no video, and not one audio packet lost.
    assert!(sim.take("tight").is_empty());
    assert_eq!(sim.audio["tight"], 150);
    let dump = sim.h.consumer_request(sim.t0, "consumer.dump", "t0", &json!({})).unwrap();
    assert_eq!((dump["preferredSpatialLayer"].as_i64(), dump["preferredTemporalLayer"].as_i64()), (Some(2), Some(0)));
    assert_eq!((dump["currentSpatialLayer"].as_i64(), dump["currentTemporalLayer"].as_i64()), (Some(2), Some(0)));
    let dump = sim.h.consumer_request(sim.t0, "consumer.dump", "tight-v", &json!({})).unwrap();
    assert_eq!((dump["targetSpatialLayer"].as_i64(), dump["currentSpatialLayer"].as_i64()), (Some(-1), Some(-1)));
    // It started on whatever flowed first and settled on the top layers.
    assert_eq!(sim.layerschanges("top").last(), Some(&json!({ "spatialLayer": 2, "temporalLayer": 2 })));
}

/// Switches down and up on a flowing stream; the first packet of the new layer is its key frame,
/// and the output timeline continues where the capture clock says.
fn switch_scenario(reports: bool) -> (Vec<Got>, Vec<Value>) {
    // Layer 0 arrives 5 ms later than the others (another path through the network).
    let mut sim = Sim::new(reports, [5, 0, 0]);
    sim.viewer("recv", "c", "v", json!({}));
    sim.run(2000);
    sim.h.consumer_request(sim.t0 + Duration::from_millis(2000), "consumer.setPreferredLayers", "c", &json!({ "spatialLayer": 0 })).unwrap();
    sim.run(1000);
    sim.h.consumer_request(sim.t0 + Duration::from_millis(3000), "consumer.setPreferredLayers", "c", &json!({ "spatialLayer": 1, "temporalLayer": 2 })).unwrap();
    sim.run(1000);
    let list = sim.take("recv");
    let changes = sim.layerschanges("c");
    (list, changes)
}

fn check_switches(list: &[Got], exact: bool) {
    assert_continuous(list);
    // From the top layer on (the start took whatever flowed first).
    let from = list.iter().position(|g| g.layer == 2).unwrap();
    let list = &list[from..];
    let layers: Vec<u8> = list.iter().map(|g| g.layer).fold(Vec::new(), |mut v, l| {
        if v.last() != Some(&l) {
            v.push(l);
        }
        v
    });
    assert_eq!(layers, vec![2, 0, 1]);
    for w in list.windows(2) {
        let (a, b) = (w[0], w[1]);
        if a.layer == b.layer {
            continue;
        }
        // The new layer starts with its key frame (TID 0, first packet).
        assert!(b.first && b.tid == 0, "{b:?}");
        // Capture instants are frame numbers: the output timeline moves by 3000 per frame.
        let dts = b.ts.wrapping_sub(a.ts);
        let frames = b.frame - a.frame;
        if exact && frames > 0 {
            assert_eq!(dts, 3000 * frames, "{a:?} → {b:?}");
        } else if exact {
            // The same capture instant as the last picture sent: moved on a little, never equal.
            assert!(dts > 0 && dts <= 3000, "{a:?} → {b:?}: {dts}");
        } else {
            assert!(dts > 0 && dts.abs_diff(3000 * frames) <= 3000, "{a:?} → {b:?}: {dts}");
        }
    }
}

#[test]
fn switches_keep_numbers_continuous_and_align_timestamps_by_sender_reports() {
    let (list, changes) = switch_scenario(true);
    check_switches(&list, true);
    let spatial: Vec<i64> = changes.iter().filter_map(|c| c["spatialLayer"].as_i64()).collect();
    assert!(spatial.windows(2).any(|w| w == [2, 0]) && spatial.windows(2).any(|w| w == [0, 1]), "{changes:?}");
}

#[test]
fn without_sender_reports_switches_still_happen_timed_by_arrival() {
    let (list, _) = switch_scenario(false);
    check_switches(&list, false);
}

#[test]
fn priorities_share_a_budget_and_a_lower_one_yields() {
    let mut sim = Sim::new(true, [0; 3]);
    sim.viewer("shared", "a", "v", json!({}));
    sim.viewer("shared", "b", "v", json!({}));
    sim.h.consumer_request(sim.t0, "consumer.setPriority", "b", &json!({ "priority": 2 })).unwrap();
    // Measured here: ≈ 124 k, 416 k, 1.31 M. Room for layers 2 + 0 (1.44 M), not 2 + 1 (1.73 M).
    sim.budget("shared", 1_600_000);
    sim.run(3000);
    sim.take("shared");
    let ck = |sim: &Sim, c: &str| sim.h.r.consumer_key(c).unwrap();
    let (a, b) = (ck(&sim, "a"), ck(&sim, "b"));
    assert_eq!(sim.h.r.consumers[b].current_layers().map(|l| l.0), Some(2));
    assert_eq!(sim.h.r.consumers[a].current_layers().map(|l| l.0), Some(0));
}


// ----- bandwidth estimation towards a viewer over an emulated path --------------------------

use crate::rtp::twcc::TwccRecorder;
use crate::transport::congestion::tests::Path;

impl Sim {
    /// A viewer of `v` (and `a`) on transport `net` behind `cap` bit/s with `loss`.
    fn viewer_behind(&mut self, cap: f64, loss: f64) {
        let c = self.viewer("net", "net-v", "v", json!({}));
        self.viewer("net", "net-a", "a", json!({}));
        let twcc_id = c["rtpParameters"]["headerExtensions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["uri"] == crate::rtp::URI_TRANSPORT_CC)
            .and_then(|e| e["id"].as_u64())
            .expect("transport-cc negotiated") as u8;
        self.net = Some(Viewer { path: Path::new(cap, loss), twcc_id, arrivals: Default::default(), recorder: TwccRecorder::default(), layer: None, audio: 0 });
    }

    /// Runs `ms`, sampling (time s, layer arriving, estimate) every 500 ms; prints them.
    fn run_sampled(&mut self, ms: u64, label: &str) -> Vec<(f64, Option<u8>, u64)> {
        let mut samples = Vec::new();
        for _ in 0..ms / 500 {
            self.run(500);
            let tk = self.h.tk("net");
            let t = f64::from(self.frames) / 30.0;
            samples.push((t, self.net.as_ref().unwrap().layer, self.h.transports[tk].media.congestion.estimate()));
        }
        eprintln!("{label}: {}", samples.iter().map(|(t, l, e)| format!("{t:.1}s L{} {}k", l.map_or("-".into(), |l| l.to_string()), e / 1000)).collect::<Vec<_>>().join(", "));
        samples
    }

    fn set_cap(&mut self, cap: f64) {
        self.net.as_mut().unwrap().path.cap = cap;
    }
}

#[test]
fn estimation_follows_a_capped_path_layer_by_layer() {
    let mut sim = Sim::new(true, [0; 3]);
    sim.viewer_behind(700_000.0, 0.0);
    // 700 kbit/s: the middle layer within 5 s, and it stays there.
    let s = sim.run_sampled(10_000, "cap 700k");
    assert!(s[9..].iter().all(|(_, l, _)| *l == Some(1)), "middle layer from 5 s on: {s:?}");
    for (_, _, e) in &s[12..] {
        assert!((560_000..=840_000).contains(e), "estimate within 20% of 700k: {s:?}");
    }
    // 300 kbit/s: the lowest layer within 2 s.
    sim.set_cap(300_000.0);
    let s = sim.run_sampled(6_000, "cap 300k");
    assert!(s[4..].iter().all(|(_, l, _)| *l == Some(0)), "lowest layer within 2 s: {s:?}");
    // 3 Mbit/s again: the top layer within 10 s (probes find the room).
    sim.set_cap(3_000_000.0);
    let s = sim.run_sampled(12_000, "cap 3M");
    assert!(s[19..].iter().all(|(_, l, _)| *l == Some(2)), "top layer within 10 s: {s:?}");
    // Audio kept flowing throughout (every 20 ms).
    assert!(sim.net.as_ref().unwrap().audio > 1300 * 9 / 10, "{}", sim.net.as_ref().unwrap().audio);
}

#[test]
fn moderate_random_loss_does_not_drop_the_layer() {
    let mut sim = Sim::new(true, [0; 3]);
    sim.viewer_behind(10_000_000.0, 0.0);
    let s = sim.run_sampled(6_000, "no loss");
    assert_eq!(s.last().unwrap().1, Some(2), "{s:?}");
    sim.net.as_mut().unwrap().path.loss = 0.05;
    let s = sim.run_sampled(8_000, "5% loss");
    assert!(s.iter().all(|(_, l, _)| *l == Some(2)), "stays on the top layer: {s:?}");
}

#[test]
fn max_incoming_bitrate_reaches_the_sender_as_remb() {
    let mut sim = Sim::new(true, [0; 3]);
    let tk = sim.h.tk("send");
    sim.h.transports[tk].media.bitrates.set_max_incoming(300_000);
    sim.viewer("recv", "c", "v", json!({}));
    let t0 = sim.t0;
    let mut remb = Vec::new();
    // Frames for a second, then the periodic reports.
    for k in 0..60u64 {
        let now = t0 + Duration::from_millis(k * 20);
        let mut seq = sim.seqs[0];
        for p in frame(0, k as u32, k == 0, &mut seq) {
            sim.h.on_rtp(now, "send", &p);
        }
        sim.seqs[0] = seq;
        sim.h.tick(now);
        remb.extend(rtcp_to(&outputs(&mut sim.h), "send").into_iter().filter_map(|f| match f {
            Feedback::Remb { bitrate, ssrcs } => Some((bitrate, ssrcs)),
            _ => None,
        }));
    }
    assert!(!remb.is_empty(), "a REMB went to the sender");
    assert!(remb.iter().all(|(b, s)| *b <= 300_000 && s.contains(&SSRCS[0])), "{remb:?}");
}

// ----- VP9 SVC: one stream, its spatial layers within a budget ------------------------------

/// One VP9 K-SVC picture: a packet per spatial layer (≈ 400 / 1,200 / 4,000 bytes), the top
/// one marked as the end of the picture.
fn vp9_picture(n: u32, key: bool, seq: &mut u16) -> Vec<Vec<u8>> {
    const SIZES: [usize; 3] = [400, 1200, 4000];
    (0..3u8)
        .map(|sid| {
            let b0 = 0x80 | 0x20 | 0x08 | 0x04 | if key { 0 } else { 0x40 };
            let pid = n as u16 & 0x7fff;
            let mut payload = vec![b0, 0x80 | (pid >> 8) as u8, pid as u8, (sid << 1) | 0x10, n as u8];
            payload.resize(SIZES[usize::from(sid)], 0);
            *seq = seq.wrapping_add(1);
            crate::rtp::marshal(&Packet {
                header: Header { version: 2, payload_type: 98, sequence_number: *seq, timestamp: n * 3000, ssrc: 7000, marker: sid == 2, ..Default::default() },
                payload: Bytes::from(payload),
            })
            .unwrap()
        })
        .collect()
}

#[test]
fn svc_spatial_layers_follow_the_budget() {
    let codecs = json!([{ "kind": "video", "mimeType": "video/VP9", "clockRate": 90000, "parameters": { "profile-id": 0 } }]);
    let mut h = H::new(crate::ortc::generate_router_rtp_capabilities(Some(&codecs)).unwrap());
    h.add_transport("send");
    h.add_transport("recv");
    let params = json!({
        "mid": "0",
        "codecs": [{ "mimeType": "video/VP9", "payloadType": 98, "clockRate": 90000, "parameters": { "profile-id": 0 },
            "rtcpFeedback": [{ "type": "nack" }, { "type": "nack", "parameter": "pli" }] }],
        "headerExtensions": [{ "uri": crate::rtp::URI_MID, "id": 4 }],
        "encodings": [{ "ssrc": 7000, "scalabilityMode": "L3T3_KEY" }],
        "rtcp": { "cname": "v" },
    });
    assert_eq!(h.produce("send", &json!({ "producerId": "v", "kind": "video", "rtpParameters": params, "keyFrameCache": false })).unwrap()["type"], "svc");
    let caps = h.r.rtp_capabilities.clone();
    let t0 = Instant::now();
    let c = h.consume(t0, "recv", &json!({ "consumerId": "c", "producerId": "v", "rtpCapabilities": caps })).unwrap();
    assert_eq!(c["type"], "svc");
    h.transport_connected(t0, "recv");
    let tk = h.tk("recv");
    h.transports[tk].media.bitrates.set_max_outgoing(500_000).unwrap();
    let mut seq = 1000u16;
    let mut key_wanted = true;
    let mut run = |h: &mut H, from: u32, to: u32, key_wanted: &mut bool| -> Vec<(u8, bool, u16)> {
        let mut got = Vec::new();
        for n in from..to {
            let now = t0 + Duration::from_millis(u64::from(n) * 100 / 3);
            let key = std::mem::take(key_wanted) || n % 150 == 0;
            for p in vp9_picture(n, key, &mut seq) {
                h.on_rtp(now, "send", &p);
            }
            h.tick(now);
            for o in outputs(h) {
                match o {
                    Output::Rtp { transport_id, data } if transport_id == "recv" => {
                        let p = crate::rtp::parse(&data).unwrap();
                        let d = crate::router::consumer::vp9::Descriptor::parse(&p.payload).unwrap();
                        got.push((d.sid, p.header.marker, p.header.sequence_number));
                    }
                    Output::Rtcp { transport_id, data } if transport_id == "send" => {
                        if rtcp::parse(&data).unwrap_or_default().iter().any(|f| matches!(f, Feedback::Pli { .. } | Feedback::Fir { .. })) {
                            *key_wanted = true;
                        }
                    }
                    _ => {}
                }
            }
        }
        got
    };
    // 500 kbit/s: layers 0 and 1 (≈ 100 k + 300 k), not 2 (≈ 1 M more).
    run(&mut h, 0, 90, &mut key_wanted);
    let got = run(&mut h, 90, 180, &mut key_wanted);
    assert!(!got.is_empty());
    assert!(got.iter().all(|(sid, _, _)| *sid <= 1), "{:?}", got.iter().map(|g| g.0).collect::<std::collections::BTreeSet<_>>());
    assert!(got.iter().any(|(sid, _, _)| *sid == 1));
    // Layer 1 ends each picture now; no gap in sequence numbers for the dropped layer.
    assert!(got.iter().all(|(sid, marker, _)| *marker == (*sid == 1)));
    assert!(got.windows(2).all(|w| w[1].2 == w[0].2.wrapping_add(1)));
    // 3 Mbit/s: back to the top layer (at a key frame the consumer asks for).
    h.transports[tk].media.bitrates.set_max_outgoing(3_000_000).unwrap();
    let got = run(&mut h, 180, 240, &mut key_wanted);
    assert!(got.iter().any(|(sid, _, _)| *sid == 2), "top layer again");
}
