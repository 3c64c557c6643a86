use super::*;
use crate::rtp::VideoCodec;
use crate::engine::io::Output;
use bytes::Bytes;
use rtc_rtp::header::Header;

/// Collects what a consumer sends.
#[derive(Default)]
struct Sink {
    twcc: u16,
    sent: Vec<Vec<u8>>,
}

impl MediaOut for Sink {
    fn next_twcc_seq(&mut self) -> u16 {
        let s = self.twcc;
        self.twcc = self.twcc.wrapping_add(1);
        s
    }
    fn send_rtp(&mut self, _now: Instant, _clock: &Clock, data: Vec<u8>, _consumer: &crate::api::ConsumerId, _out: &mut Outbox) -> bool {
        self.sent.push(data);
        true
    }
}

impl Sink {
    fn take(&mut self) -> Vec<Packet> {
        self.sent.drain(..).map(|b| rtp::parse(&b).unwrap()).collect()
    }
}

fn clock() -> Clock {
    Clock::new(Instant::now(), std::time::SystemTime::now())
}

fn keys() -> (ProducerKey, TransportKey) {
    let mut p = crate::arena::Arena::default();
    let mut t = crate::arena::Arena::default();
    (p.insert(()).cast(), t.insert(()).cast())
}

fn consumer(kind: MediaKind, rtx: bool) -> Consumer {
    let video = kind == MediaKind::Video;
    let mut codecs = vec![json!({ "mimeType": if video { "video/VP8" } else { "audio/opus" }, "payloadType": 101, "clockRate": 90000 })];
    let mut enc = json!({ "ssrc": 5000 });
    if rtx {
        codecs.push(json!({ "mimeType": "video/rtx", "payloadType": 102, "clockRate": 90000, "parameters": { "apt": 101 } }));
        enc["rtx"] = json!({ "ssrc": 5001 });
    }
    let (producer, transport) = keys();
    Consumer::new(NewConsumer {
        id: ConsumerId::new("c"),
        producer,
        transport,
        kind,
        ctype: ConsumerType::Simple,
        rtp_parameters: &json!({ "mid": "1", "codecs": codecs, "encodings": [enc], "headerExtensions": [{ "uri": rtp::URI_MID, "id": 1 }, { "uri": rtp::URI_TRANSPORT_CC, "id": 5 }] }),
        paused: false,
        producer_paused: false,
        preferred_layers: None,
        max_layers: (0, 0),
        layer_ssrcs: Vec::new(),
        ignore_dtx: false,
        cname: "x".into(),
        initial_seqs: (1000, 2000),
        pipe: None,
    })
}

fn pkt(seq: u16, ts: u32, key: bool) -> SharedPacket {
    SharedPacket::new(Packet {
        header: Header { version: 2, payload_type: 101, sequence_number: seq, timestamp: ts, ssrc: 777, ..Default::default() },
        payload: Bytes::from(if key { vec![0x10, 0x00, 0x9d] } else { vec![0x10, 0x01, 0x9d] }),
    })
}

fn send(c: &mut Consumer, p: &SharedPacket, sink: &mut Sink) -> Option<Packet> {
    let key = rtp::is_key_frame(VideoCodec::Vp8, &p.payload);
    let mut out = Outbox::default();
    c.send_rtp(Instant::now(), &clock(), p, key, &ExtIds::default(), &[], sink, &mut out, usize::MAX);
    sink.take().pop()
}

#[test]
fn video_starts_on_a_key_frame_with_continuous_sequence_across_pause() {
    let mut c = consumer(MediaKind::Video, true);
    let mut sink = Sink::default();
    assert!(send(&mut c, &pkt(10, 0, false), &mut sink).is_none());
    assert!(c.needs_key_frame());
    let first = send(&mut c, &pkt(11, 3000, true), &mut sink).unwrap();
    assert_eq!(first.header.ssrc, 5000);
    assert_eq!(first.header.sequence_number, 1001, "continues after the initial number");
    assert_eq!(rtp::ext_string(&first, Some(1)).as_deref(), Some("1"));
    assert_eq!(rtp::ext_value(&first, Some(5)).unwrap().as_ref(), &[0, 0]);
    let second = send(&mut c, &pkt(12, 3000, false), &mut sink).unwrap();
    assert_eq!(second.header.sequence_number, first.header.sequence_number.wrapping_add(1));
    assert_eq!(sink.twcc, 2);
    // Older than the sync point: dropped.
    assert!(send(&mut c, &pkt(9, 0, false), &mut sink).is_none());
    // Pause, producer moves on, resume: waits for a key frame, then continues at +1.
    c.set_paused(true);
    assert!(send(&mut c, &pkt(13, 6000, false), &mut sink).is_none());
    c.set_paused(false);
    assert!(send(&mut c, &pkt(50, 90000, false), &mut sink).is_none());
    let third = send(&mut c, &pkt(51, 93000, true), &mut sink).unwrap();
    assert_eq!(third.header.sequence_number, second.header.sequence_number.wrapping_add(1));
    assert_eq!(third.header.timestamp, 93000);
}

#[test]
fn nacks_are_answered_with_rtx_once_per_round_trip() {
    let mut c = consumer(MediaKind::Video, true);
    let mut sink = Sink::default();
    let mut out = Outbox::default();
    let a = send(&mut c, &pkt(1, 0, true), &mut sink).unwrap();
    let b = send(&mut c, &pkt(2, 0, false), &mut sink).unwrap();
    let now = Instant::now();
    let seqs = [b.header.sequence_number, a.header.sequence_number, 9999, b.header.sequence_number];
    assert_eq!(c.on_nack(now, &clock(), 5000, &seqs, &mut sink, &mut out), 2, "duplicates and unknown numbers are not resent");
    let resent = sink.take();
    let r = &resent[0];
    assert_eq!((r.header.ssrc, r.header.payload_type), (5001, 102));
    let orig = rtp::from_rtx(r.clone(), 5000, 101).unwrap();
    assert_eq!(orig.header.sequence_number, b.header.sequence_number);
    assert_eq!(orig.payload, b.payload);
    // Rebuilt from the producer's packet (shared, not a copy): the same packet as first sent,
    // but for a transport-wide sequence number of its own (one number, one datagram).
    let tcc = |p: &Packet| p.header.extensions.iter().find(|e| e.id == 5).map(|e| e.payload.clone());
    assert_ne!(tcc(&orig), tcc(&b));
    assert!(tcc(&orig).is_some());
    let same_but_tcc = |p: &Packet| {
        let mut p = p.clone();
        p.header.extensions.retain(|e| e.id != 5);
        rtp::marshal(&p)
    };
    assert_eq!(same_but_tcc(&orig), same_but_tcc(&b));
    // Asked again at once: not resent until a round trip has passed.
    assert_eq!(c.on_nack(now + Duration::from_millis(5), &clock(), 5000, &seqs, &mut sink, &mut out), 0);
    assert_eq!(c.on_nack(now + Duration::from_millis(150), &clock(), 5000, &seqs, &mut sink, &mut out), 2);
    // A NACK for another SSRC is not ours.
    assert_eq!(c.on_nack(now + Duration::from_secs(1), &clock(), 1234, &seqs, &mut sink, &mut out), 0);
    // Without RTX the original packet is resent.
    let mut c = consumer(MediaKind::Video, false);
    let a = send(&mut c, &pkt(1, 0, true), &mut sink).unwrap();
    c.on_nack(now, &clock(), 5000, &[a.header.sequence_number], &mut sink, &mut out);
    assert_eq!(sink.take()[0].header.ssrc, 5000);
}

#[test]
fn a_nack_listing_every_number_costs_at_most_what_is_buffered_once() {
    let mut c = consumer(MediaKind::Video, true);
    let mut sink = Sink::default();
    let mut out = Outbox::default();
    for seq in 0..100u16 {
        send(&mut c, &pkt(seq, 0, seq == 0), &mut sink);
    }
    sink.take();
    let all: Vec<u16> = (0..=u16::MAX).collect();
    let now = Instant::now();
    let n = c.on_nack(now, &clock(), 5000, &all, &mut sink, &mut out);
    assert!(n <= 100, "{n}");
    let again: usize = (0..50).map(|i| c.on_nack(now + Duration::from_millis(i), &clock(), 5000, &all, &mut sink, &mut out)).sum();
    assert_eq!(again, 0, "nothing twice within a round trip");
}

#[test]
fn round_trip_from_receiver_reports_bounds_the_resend_interval() {
    let mut c = consumer(MediaKind::Video, true);
    assert!(c.rtt().is_none());
    // Our SR left at middle-NTP 0x0001_0000 (1 s); the report says it waited 0.25 s; now 1.30 s.
    c.on_receiver_report(0x0001_0000 + 65536 * 30 / 100, 0, 0, 0x0001_0000, 65536 / 4);
    let rtt = c.rtt().unwrap().as_millis();
    assert!((49..=51).contains(&rtt), "{rtt}");
    // A receiver claiming no delay at all still gets the floor.
    c.on_receiver_report(0x0001_0000, 0, 0, 0x0001_0000, 0);
    assert_eq!(c.resend_interval(), MIN_RTT);
}

#[test]
fn audio_starts_at_once_and_foreign_payload_types_are_dropped() {
    let mut c = consumer(MediaKind::Audio, false);
    let mut sink = Sink::default();
    assert!(send(&mut c, &pkt(1, 0, false), &mut sink).is_some());
    let mut other = pkt(2, 0, false);
    SharedPacket::make_mut(&mut other).header.payload_type = 55;
    assert!(send(&mut c, &other, &mut sink).is_none());
}

#[test]
fn a_replay_starts_from_the_cache_and_live_packets_queue_behind_it() {
    let mut c = consumer(MediaKind::Video, true);
    let mut sink = Sink::default();
    let mut out = Outbox::default();
    let t0 = Instant::now();
    let cached = vec![(t0, pkt(100, 9000, true)), (t0 + Duration::from_millis(40), pkt(101, 12600, false))];
    let s = c.start_replay(t0, &clock(), cached, &ExtIds::default(), &mut sink, &mut out, usize::MAX);
    assert_eq!(s.packets, 1, "the key frame at once");
    // A live delta frame waits behind the replay.
    let s = c.send_rtp(t0, &clock(), &pkt(102, 16200, false), false, &ExtIds::default(), &[], &mut sink, &mut out, usize::MAX);
    assert_eq!(s.packets, 0);
    assert_eq!(c.next_replay_due(), Some(t0 + Duration::from_millis(10)));
    c.drain_replay(t0 + Duration::from_millis(10), &clock(), &ExtIds::default(), &mut sink, &mut out, usize::MAX);
    let seqs: Vec<u16> = sink.take().iter().map(|p| p.header.sequence_number).collect();
    assert_eq!(seqs, vec![1001, 1002, 1003]);
    assert!(!c.is_replaying());
}

#[test]
fn pipe_consumers_answer_nacks_per_stream_on_its_rtx_stream() {
    let codecs = json!([
        { "mimeType": "video/VP8", "payloadType": 101, "clockRate": 90000 },
        { "mimeType": "video/rtx", "payloadType": 102, "clockRate": 90000, "parameters": { "apt": 101 } },
    ]);
    let (producer, transport) = keys();
    let mut c = Consumer::new(NewConsumer {
        id: ConsumerId::new("pc"),
        producer,
        transport,
        kind: MediaKind::Video,
        ctype: ConsumerType::Pipe,
        rtp_parameters: &json!({ "codecs": codecs, "encodings": [{ "ssrc": 100, "rtx": { "ssrc": 200 } }, { "ssrc": 101, "rtx": { "ssrc": 201 } }], "headerExtensions": [] }),
        paused: false,
        producer_paused: false,
        preferred_layers: None,
        max_layers: (0, 0),
        layer_ssrcs: Vec::new(),
        ignore_dtx: false,
        cname: "x".into(),
        initial_seqs: (0, 0),
        pipe: Some((vec![(777, 100), (778, 101)], vec![(100, 200), (101, 201)])),
    });
    let mut sink = Sink::default();
    let mut out = Outbox::default();
    let mut low = pkt(40, 0, false);
    let mut high = pkt(40, 0, false);
    SharedPacket::make_mut(&mut high).header.ssrc = 778;
    SharedPacket::make_mut(&mut high).payload = Bytes::from(vec![0x10, 0x01, 0x42]);
    // Pipes forward as is: no key frame wait, sequence numbers kept, SSRC mapped per stream.
    let a = send(&mut c, &low, &mut sink).unwrap();
    let b = send(&mut c, &high, &mut sink).unwrap();
    assert_eq!((a.header.ssrc, a.header.sequence_number), (100, 40));
    assert_eq!((b.header.ssrc, b.header.sequence_number), (101, 40));
    SharedPacket::make_mut(&mut low).header.sequence_number = 41;
    send(&mut c, &low, &mut sink).unwrap();
    // Same sequence number on two streams: the NACK's SSRC picks the packet.
    let now = Instant::now();
    assert_eq!(c.on_nack(now, &clock(), 101, &[40], &mut sink, &mut out), 1);
    let r = sink.take().remove(0);
    assert_eq!((r.header.ssrc, r.header.payload_type), (201, 102));
    let orig = rtp::from_rtx(r, 101, 101).unwrap();
    assert_eq!(orig.payload.as_ref(), &[0x10, 0x01, 0x42]);
    assert_eq!(c.on_nack(now, &clock(), 100, &[40, 41, 42], &mut sink, &mut out), 2);
    assert_eq!(c.out_ssrcs(), vec![100, 200, 101, 201]);
    let _ = out.pop().map(|o| matches!(o, Output::Event(_)));
}

#[test]
fn video_is_padded_to_the_outbox_multiple_and_reads_back_the_same() {
    let (mut v, mut a) = (consumer(MediaKind::Video, false), consumer(MediaKind::Audio, false));
    let mut sink = Sink::default();
    let mut out = Outbox::padding_video(16);
    let now = Instant::now();
    // Payloads of 3 to 40 bytes: every remainder modulo 16.
    for (i, len) in (3..=40usize).enumerate() {
        let mut payload = vec![0x10, if i == 0 { 0x00 } else { 0x01 }, 0x9d];
        payload.resize(len, i as u8);
        let p = SharedPacket::new(Packet {
            header: Header { version: 2, payload_type: 101, sequence_number: 100 + i as u16, timestamp: 3000 * i as u32, ssrc: 777, ..Default::default() },
            payload: Bytes::from(payload.clone()),
        });
        let key = rtp::is_key_frame(VideoCodec::Vp8, &p.payload);
        for c in [&mut v, &mut a] {
            assert_eq!(c.send_rtp(now, &clock(), &p, key, &ExtIds::default(), &[], &mut sink, &mut out, usize::MAX).packets, 1);
        }
        let (video, audio) = (sink.sent.remove(0), sink.sent.remove(0));
        assert_eq!(video.len() % 16, 0, "video at {} bytes", video.len());
        let parsed = rtp::parse(&video).unwrap();
        assert_eq!(&parsed.payload[..], &payload[..], "the payload reads back without the padding");
        assert_eq!(parsed.header.sequence_number, 1001 + i as u16);
        // Audio is not padded: its length is the header, extensions and payload.
        assert_eq!(audio[0] & 0x20, 0);
        assert_eq!(rtp::parse(&audio).unwrap().payload.len(), len);
    }
}
