//! RTP packets as the router handles them: parsing (via `rtc-rtp`), rewriting for a consumer,
//! RTX wrapping; header extensions (`ext`), key frames per codec (`codec`), RTCP, transport-wide
//! congestion control feedback, bitrate meters and extended sequence numbers.

pub mod codec;
pub mod ext;
pub mod rate;
pub mod rtcp;
pub mod twcc;
pub mod vp9;
pub mod write;

pub use codec::{is_key_frame, VideoCodec};
pub use ext::*;
pub use write::{pad_to, write, write_into, AsRtx, ExtPlan, TAG_ROOM};

/// A producer's packet as consumers, the key frame cache and retransmission buffers hold it:
/// one copy however many keep it. Not atomic: an engine stays on its worker's thread, and each
/// consumer takes a reference to each packet it sends (a locked increment there, a barrier after
/// writing the datagram, was ~5 % of forwarding).
pub type SharedPacket = std::rc::Rc<Packet>;


use bytes::{Bytes, BytesMut};
use rtc_rtp::packet::Packet;
use rtc_shared::marshal::{Marshal, MarshalSize, Unmarshal};

/// Extends 16-bit sequence numbers to a monotonic 64-bit space (wraps and reordering).
#[derive(Clone, Copy, Debug, Default)]
pub struct SeqUnwrapper {
    highest: Option<i64>,
}

impl SeqUnwrapper {
    pub fn unwrap(&mut self, seq: u16) -> i64 {
        let v = match self.highest {
            None => i64::from(seq),
            Some(h) => h + i64::from(seq.wrapping_sub(h as u16) as i16),
        };
        if self.highest.is_none_or(|h| v > h) {
            self.highest = Some(v);
        }
        v
    }
}

pub fn parse(data: &[u8]) -> Option<Packet> {
    let mut b = Bytes::copy_from_slice(data);
    let p = Packet::unmarshal(&mut b).ok()?;
    if p.header.version != 2 {
        return None;
    }
    Some(p)
}

pub fn marshal(p: &Packet) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; p.marshal_size()];
    p.marshal_to(&mut buf).ok()?;
    Some(buf)
}

/// What a consumer writes into the packets it sends.
pub struct Rewrite<'a> {
    pub ssrc: u32,
    pub seq: u16,
    pub timestamp: u32,
    pub payload_type: u8,
    pub mid: Option<&'a str>,
    pub transport_cc_seq: Option<u16>,
    /// abs-send-time to write (24 bits, see [`abs_send_time`]).
    pub abs_send_time: u32,
}

/// The packet as the consumer sends it: its SSRC/seq/PT, extensions renumbered from the
/// producer's ids to the consumer's (dropping what the consumer did not negotiate), MID set,
/// abs-send-time and transport-wide sequence number freshly written.
pub fn rewrite(p: &Packet, producer: &ExtIds, consumer: &ExtIds, w: &Rewrite<'_>) -> Option<Vec<u8>> {
    Some(write(p, &ExtPlan::new(producer, consumer), w, None))
}

/// RTX (RFC 4588): the original sequence number in front of the payload.
pub fn to_rtx(media: &[u8], rtx_ssrc: u32, rtx_pt: u8, rtx_seq: u16) -> Option<Vec<u8>> {
    let mut p = parse(media)?;
    let osn = p.header.sequence_number;
    let mut payload = BytesMut::with_capacity(p.payload.len() + 2);
    payload.extend_from_slice(&osn.to_be_bytes());
    payload.extend_from_slice(&p.payload);
    p.payload = payload.freeze();
    p.header.ssrc = rtx_ssrc;
    p.header.payload_type = rtx_pt;
    p.header.sequence_number = rtx_seq;
    p.header.padding = false;
    marshal(&p)
}

/// Undoes RTX: the original packet (with `media_ssrc`, `media_pt`), or `None` for padding.
pub fn from_rtx(mut p: Packet, media_ssrc: u32, media_pt: u8) -> Option<Packet> {
    if p.payload.len() < 2 {
        return None;
    }
    let osn = u16::from_be_bytes([p.payload[0], p.payload[1]]);
    p.payload = p.payload.slice(2..);
    p.header.sequence_number = osn;
    p.header.ssrc = media_ssrc;
    p.header.payload_type = media_pt;
    p.header.padding = false;
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc_rtp::header::Extension;
    use rtc_rtp::header::Header;

    fn packet(exts: Vec<(u8, &[u8])>) -> Packet {
        Packet {
            header: Header {
                version: 2,
                payload_type: 96,
                sequence_number: 100,
                timestamp: 9000,
                ssrc: 1111,
                extension: !exts.is_empty(),
                extension_profile: 0xBEDE,
                extensions: exts
                    .into_iter()
                    .map(|(id, v)| Extension { id, payload: Bytes::copy_from_slice(v) })
                    .collect(),
                ..Default::default()
            },
            payload: Bytes::from_static(&[0x10, 0x00, 0x9d, 0x01, 0x2a]),
        }
    }

    #[test]
    fn rewrites_ids_and_fields_for_a_consumer() {
        let producer = ExtIds { all: vec![(4, URI_MID.into()), (2, URI_ABS_SEND_TIME.into()), (13, URI_VIDEO_ORIENTATION.into()), (10, URI_RID.into())] };
        let consumer = ExtIds { all: vec![(1, URI_MID.into()), (4, URI_ABS_SEND_TIME.into()), (5, URI_TRANSPORT_CC.into()), (8, URI_VIDEO_ORIENTATION.into()), (2, URI_RID.into())] };
        let p = packet(vec![(4, b"0"), (2, &[1, 2, 3]), (13, &[1]), (10, b"h")]);
        let bytes = marshal(&p).unwrap();
        let parsed = parse(&bytes).unwrap();
        let out = rewrite(&parsed, &producer, &consumer, &Rewrite { ssrc: 5555, seq: 7, timestamp: 9000, payload_type: 101, mid: Some("3"), transport_cc_seq: Some(42), abs_send_time: 0x010203 }).unwrap();
        let q = parse(&out).unwrap();
        assert_eq!((q.header.ssrc, q.header.sequence_number, q.header.payload_type), (5555, 7, 101));
        assert_eq!(ext_string(&q, Some(1)).as_deref(), Some("3"));
        assert_eq!(ext_value(&q, Some(5)).unwrap().as_ref(), &[0, 42]);
        assert_eq!(ext_value(&q, Some(8)).unwrap().as_ref(), &[1]);
        assert_eq!(ext_value(&q, Some(4)).unwrap().as_ref(), &[1, 2, 3]);
        assert!(ext_value(&q, Some(2)).is_none(), "rid is not forwarded");
        assert_eq!(q.payload, p.payload);
    }

    /// The rewrite as it was done through rtc-rtp's packet and marshal: the writer must agree
    /// byte for byte.
    fn reference(p: &Packet, producer: &ExtIds, consumer: &ExtIds, w: &Rewrite<'_>) -> Vec<u8> {
        let mut out = Packet { header: p.header.clone(), payload: p.payload.clone() };
        out.header.ssrc = w.ssrc;
        out.header.sequence_number = w.seq;
        out.header.timestamp = w.timestamp;
        out.header.payload_type = w.payload_type;
        let mut exts = Vec::new();
        for (cid, uri) in &consumer.all {
            let value = match uri.as_str() {
                URI_MID => w.mid.map(|m| Bytes::copy_from_slice(m.as_bytes())),
                URI_ABS_SEND_TIME => Some(Bytes::copy_from_slice(&w.abs_send_time.to_be_bytes()[1..])),
                URI_TRANSPORT_CC => w.transport_cc_seq.map(|s| Bytes::copy_from_slice(&s.to_be_bytes())),
                URI_RID | URI_RRID => None,
                other => ext_value(p, producer.id(other)).cloned(),
            };
            if let Some(v) = value {
                if !v.is_empty() && v.len() <= 255 {
                    exts.push(Extension { id: *cid, payload: v });
                }
            }
        }
        let two_byte = exts.iter().any(|e| e.payload.len() > 16 || e.id > 14);
        out.header.extension = !exts.is_empty();
        out.header.extension_profile = match (exts.is_empty(), two_byte) {
            (true, _) => 0,
            (false, false) => rtc_rtp::header::EXTENSION_PROFILE_ONE_BYTE,
            (false, true) => rtc_rtp::header::EXTENSION_PROFILE_TWO_BYTE,
        };
        out.header.extensions = exts;
        out.header.extensions_padding = 0;
        if !out.payload.is_empty() {
            out.header.padding = false;
        }
        marshal(&out).unwrap()
    }

    #[test]
    fn the_writer_agrees_with_rtc_rtp_byte_for_byte() {
        let producer = ExtIds { all: vec![(4, URI_MID.into()), (2, URI_ABS_SEND_TIME.into()), (13, URI_VIDEO_ORIENTATION.into()), (10, URI_RID.into()), (7, URI_DEPENDENCY_DESCRIPTOR.into()), (3, URI_AUDIO_LEVEL.into())] };
        let consumers = [
            ExtIds { all: vec![(1, URI_MID.into()), (4, URI_ABS_SEND_TIME.into()), (5, URI_TRANSPORT_CC.into()), (8, URI_VIDEO_ORIENTATION.into()), (2, URI_RID.into())] },
            ExtIds { all: vec![(1, URI_MID.into()), (12, URI_DEPENDENCY_DESCRIPTOR.into()), (3, URI_AUDIO_LEVEL.into())] },
            ExtIds { all: vec![(15, URI_MID.into()), (6, URI_VIDEO_ORIENTATION.into())] },
            ExtIds { all: vec![] },
        ];
        let long = [9u8; 40];
        let mut cases = vec![
            packet(vec![(4, b"0"), (2, &[1, 2, 3]), (13, &[1]), (10, b"h")]),
            packet(vec![(7, &long), (3, &[0x85])]),
            packet(vec![(7, &long[..16]), (13, &[0])]),
            packet(vec![]),
        ];
        let mut with_csrc = packet(vec![(3, &[1])]);
        with_csrc.header.csrc = vec![1, 2, 3];
        with_csrc.header.marker = true;
        cases.push(with_csrc);
        let mut padding = packet(vec![(2, &[1, 2, 3])]);
        padding.header.padding = true;
        padding.payload = Bytes::new();
        cases.push(padding);
        for (i, p) in cases.iter().enumerate() {
            // Through the wire and back, as the router sees a producer's packet.
            let p = parse(&marshal(p).unwrap()).unwrap();
            for (j, consumer) in consumers.iter().enumerate() {
                for (mid, tcc) in [(Some("3"), Some(42)), (None, None), (Some("a-long-mid-value"), Some(65_535))] {
                    let w = Rewrite { ssrc: 5555, seq: 7, timestamp: 9000, payload_type: 101, mid, transport_cc_seq: tcc, abs_send_time: 0x010203 };
                    let want = reference(&p, &producer, consumer, &w);
                    let got = write(&p, &ExtPlan::new(&producer, consumer), &w, None);
                    assert_eq!(got, want, "packet {i}, consumer {j}, mid {mid:?}");
                    assert!(got.capacity() >= got.len() + TAG_ROOM);
                    if !p.payload.is_empty() {
                        let rtx = write(&p, &ExtPlan::new(&producer, consumer), &w, Some(AsRtx { ssrc: 2222, payload_type: 97, seq: 5 }));
                        assert_eq!(rtx, to_rtx(&want, 2222, 97, 5).unwrap(), "packet {i}, consumer {j} as RTX");
                    }
                }
            }
        }
    }

    #[test]
    fn rtx_round_trip() {
        let media = marshal(&packet(vec![])).unwrap();
        let rtx = to_rtx(&media, 2222, 97, 5).unwrap();
        let r = parse(&rtx).unwrap();
        assert_eq!((r.header.ssrc, r.header.payload_type, r.header.sequence_number), (2222, 97, 5));
        let back = from_rtx(r, 1111, 96).unwrap();
        assert_eq!(back.header.sequence_number, 100);
        assert_eq!(marshal(&back).unwrap(), media);
    }

    #[test]
    fn garbage_does_not_parse() {
        assert!(parse(&[]).is_none());
        assert!(parse(&[0x80, 96, 0]).is_none());
        assert!(parse(&[0x00; 12]).is_none());
    }
}
