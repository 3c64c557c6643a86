//! RTP packets as the router handles them: parsing (via `rtc-rtp`), header extension mapping
//! by URI, rewriting for a consumer, RTX wrapping, and key frame detection per codec payload.

use bytes::{Bytes, BytesMut};
use rtc_rtp::header::Extension;
use rtc_rtp::packet::Packet;
use rtc_shared::marshal::{Marshal, MarshalSize, Unmarshal};

pub const URI_MID: &str = "urn:ietf:params:rtp-hdrext:sdes:mid";
pub const URI_RID: &str = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id";
pub const URI_RRID: &str = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id";
pub const URI_ABS_SEND_TIME: &str = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time";
pub const URI_TRANSPORT_CC: &str =
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
pub const URI_VIDEO_ORIENTATION: &str = "urn:3gpp:video-orientation";

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

/// Header extension ids of one side (producer or consumer), by what they mean.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtIds {
    /// (id, uri) as negotiated.
    pub all: Vec<(u8, String)>,
}

impl ExtIds {
    pub fn from_parameters(params: &serde_json::Value) -> Self {
        let all = params
            .get("headerExtensions")
            .and_then(|v| v.as_array())
            .map(|list| {
                list.iter()
                    .filter_map(|e| {
                        let id = e.get("id")?.as_u64()?;
                        let uri = e.get("uri")?.as_str()?;
                        (1..=255).contains(&id).then(|| (id as u8, uri.to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        ExtIds { all }
    }

    pub fn id(&self, uri: &str) -> Option<u8> {
        self.all.iter().find(|(_, u)| u == uri).map(|(id, _)| *id)
    }

    pub fn uri(&self, id: u8) -> Option<&str> {
        self.all.iter().find(|(i, _)| *i == id).map(|(_, u)| u.as_str())
    }
}

pub fn ext_value<'a>(p: &'a Packet, id: Option<u8>) -> Option<&'a Bytes> {
    let id = id?;
    p.header.extensions.iter().find(|e| e.id == id).map(|e| &e.payload)
}

pub fn ext_string(p: &Packet, id: Option<u8>) -> Option<String> {
    ext_value(p, id).and_then(|b| std::str::from_utf8(b).ok()).map(|s| s.trim_end_matches('\0').to_string())
}

/// abs-send-time: 6.18 fixed point seconds, 24 bits.
pub fn abs_send_time(now: std::time::SystemTime) -> Bytes {
    let d = now.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let v = ((d.as_nanos() << 18) / 1_000_000_000) as u32 & 0x00ff_ffff;
    Bytes::copy_from_slice(&v.to_be_bytes()[1..])
}

/// What a consumer writes into the packets it sends.
pub struct Rewrite<'a> {
    pub ssrc: u32,
    pub seq: u16,
    pub timestamp: u32,
    pub payload_type: u8,
    pub mid: Option<&'a str>,
    pub transport_cc_seq: Option<u16>,
}

/// The packet as the consumer sends it: its SSRC/seq/PT, extensions renumbered from the
/// producer's ids to the consumer's (dropping what the consumer did not negotiate), MID set,
/// abs-send-time and transport-wide sequence number freshly written.
pub fn rewrite(p: &Packet, producer: &ExtIds, consumer: &ExtIds, w: &Rewrite<'_>) -> Option<Vec<u8>> {
    let mut out = Packet { header: p.header.clone(), payload: p.payload.clone() };
    out.header.ssrc = w.ssrc;
    out.header.sequence_number = w.seq;
    out.header.timestamp = w.timestamp;
    out.header.payload_type = w.payload_type;
    let mut exts: Vec<Extension> = Vec::with_capacity(consumer.all.len());
    for (cid, uri) in &consumer.all {
        let value = match uri.as_str() {
            URI_MID => w.mid.map(|m| Bytes::copy_from_slice(m.as_bytes())),
            URI_ABS_SEND_TIME => Some(abs_send_time(std::time::SystemTime::now())),
            URI_TRANSPORT_CC => w.transport_cc_seq.map(|s| Bytes::copy_from_slice(&s.to_be_bytes())),
            // Receive-only in mediasoup's capabilities: never forwarded.
            URI_RID | URI_RRID => None,
            other => ext_value(p, producer.id(other)).cloned(),
        };
        if let Some(v) = value {
            if !v.is_empty() && v.len() <= 16 {
                exts.push(Extension { id: *cid, payload: v });
            }
        }
    }
    out.header.extension = !exts.is_empty();
    out.header.extension_profile = if exts.is_empty() { 0 } else { 0xBEDE };
    out.header.extensions = exts;
    out.header.extensions_padding = 0;
    // Padding-only packets keep their padding; regular packets never carry any here.
    if !out.payload.is_empty() {
        out.header.padding = false;
    }
    marshal(&out)
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VideoCodec {
    Vp8,
    Vp9,
    H264,
    Av1,
    Other,
}

impl VideoCodec {
    pub fn from_mime(mime: &str) -> Self {
        match mime.to_ascii_lowercase().as_str() {
            "video/vp8" => VideoCodec::Vp8,
            "video/vp9" => VideoCodec::Vp9,
            "video/h264" | "video/h264-svc" => VideoCodec::H264,
            "video/av1" => VideoCodec::Av1,
            _ => VideoCodec::Other,
        }
    }
}

/// Whether this payload starts (or is part of the first packet of) a key frame.
pub fn is_key_frame(codec: VideoCodec, payload: &[u8]) -> bool {
    match codec {
        VideoCodec::Vp8 => vp8_key_frame(payload),
        VideoCodec::Vp9 => vp9_key_frame(payload),
        VideoCodec::H264 => h264_key_frame(payload),
        VideoCodec::Av1 => av1_key_frame(payload),
        VideoCodec::Other => false,
    }
}

/// RFC 7741: start of partition 0 and the VP8 frame header's P bit clear.
fn vp8_key_frame(p: &[u8]) -> bool {
    let Some(&b0) = p.first() else { return false };
    let x = b0 & 0x80 != 0;
    let s = b0 & 0x10 != 0;
    let pid = b0 & 0x07;
    if !s || pid != 0 {
        return false;
    }
    let mut i = 1;
    if x {
        let Some(&b1) = p.get(1) else { return false };
        i = 2;
        if b1 & 0x80 != 0 {
            // PictureID: 7 or 15 bits.
            let Some(&pic) = p.get(i) else { return false };
            i += if pic & 0x80 != 0 { 2 } else { 1 };
        }
        if b1 & 0x40 != 0 {
            i += 1; // TL0PICIDX
        }
        if b1 & 0x30 != 0 {
            i += 1; // TID/Y/KEYIDX
        }
    }
    p.get(i).is_some_and(|h| h & 0x01 == 0)
}

/// draft-ietf-payload-vp9: not inter-predicted (P = 0) and beginning of a frame (B = 1), in
/// the base spatial layer.
fn vp9_key_frame(p: &[u8]) -> bool {
    let Some(&b0) = p.first() else { return false };
    let i_bit = b0 & 0x80 != 0;
    let p_bit = b0 & 0x40 != 0;
    let l_bit = b0 & 0x20 != 0;
    let b_bit = b0 & 0x08 != 0;
    if p_bit || !b_bit {
        return false;
    }
    if l_bit {
        let mut idx = 1;
        if i_bit {
            let Some(&pic) = p.get(1) else { return false };
            idx += if pic & 0x80 != 0 { 2 } else { 1 };
        }
        // Layer indices: SID in bits 3..1.
        let Some(&layer) = p.get(idx) else { return false };
        if (layer >> 1) & 0x07 != 0 {
            return false;
        }
    }
    true
}

/// RFC 6184: an IDR slice or SPS, alone, aggregated (STAP-A) or starting a fragment (FU-A).
fn h264_key_frame(p: &[u8]) -> bool {
    let Some(&b0) = p.first() else { return false };
    let is_key = |t: u8| t == 5 || t == 7;
    match b0 & 0x1f {
        24 => {
            let mut i = 1;
            while i + 2 < p.len() {
                let size = u16::from_be_bytes([p[i], p[i + 1]]) as usize;
                if size == 0 {
                    break;
                }
                if is_key(p[i + 2] & 0x1f) {
                    return true;
                }
                i += 2 + size;
            }
            false
        }
        28 => p.get(1).is_some_and(|fu| fu & 0x80 != 0 && is_key(fu & 0x1f)),
        t => is_key(t),
    }
}

/// AV1 RTP: the aggregation header's N bit marks the first packet of a coded video sequence.
fn av1_key_frame(p: &[u8]) -> bool {
    p.first().is_some_and(|h| h & 0x08 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let out = rewrite(&parsed, &producer, &consumer, &Rewrite { ssrc: 5555, seq: 7, timestamp: 9000, payload_type: 101, mid: Some("3"), transport_cc_seq: Some(42) }).unwrap();
        let q = parse(&out).unwrap();
        assert_eq!((q.header.ssrc, q.header.sequence_number, q.header.payload_type), (5555, 7, 101));
        assert_eq!(ext_string(&q, Some(1)).as_deref(), Some("3"));
        assert_eq!(ext_value(&q, Some(5)).unwrap().as_ref(), &[0, 42]);
        assert_eq!(ext_value(&q, Some(8)).unwrap().as_ref(), &[1]);
        assert_eq!(ext_value(&q, Some(4)).unwrap().len(), 3);
        assert!(ext_value(&q, Some(2)).is_none(), "rid is not forwarded");
        assert_eq!(q.payload, p.payload);
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
    fn key_frames_per_codec() {
        // VP8: S=1, PID=0, no X; frame header P bit 0 → key; 1 → delta.
        assert!(is_key_frame(VideoCodec::Vp8, &[0x10, 0x00, 0x9d]));
        assert!(!is_key_frame(VideoCodec::Vp8, &[0x10, 0x01, 0x9d]));
        assert!(!is_key_frame(VideoCodec::Vp8, &[0x00, 0x00]));
        // VP8 with X, I (15-bit picture id), L, T/K.
        assert!(is_key_frame(VideoCodec::Vp8, &[0x90, 0xe0, 0x80, 0x01, 0x00, 0x00, 0x00]));
        assert!(!is_key_frame(VideoCodec::Vp8, &[0x90, 0xe0, 0x80, 0x01, 0x00, 0x00, 0x01]));
        // VP9: B=1, P=0 → key; P=1 → not.
        assert!(is_key_frame(VideoCodec::Vp9, &[0x08]));
        assert!(!is_key_frame(VideoCodec::Vp9, &[0x48]));
        assert!(!is_key_frame(VideoCodec::Vp9, &[0x00]));
        // H264: IDR, SPS in STAP-A, FU-A start of IDR; non-IDR slice is not.
        assert!(is_key_frame(VideoCodec::H264, &[0x65, 0x88]));
        assert!(is_key_frame(VideoCodec::H264, &[0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce]));
        assert!(is_key_frame(VideoCodec::H264, &[0x7c, 0x85, 0x88]));
        assert!(!is_key_frame(VideoCodec::H264, &[0x7c, 0x05, 0x88]));
        assert!(!is_key_frame(VideoCodec::H264, &[0x41, 0x9a]));
        // AV1: N bit.
        assert!(is_key_frame(VideoCodec::Av1, &[0x18]));
        assert!(!is_key_frame(VideoCodec::Av1, &[0x10]));
        // Empty payloads never are.
        for c in [VideoCodec::Vp8, VideoCodec::Vp9, VideoCodec::H264, VideoCodec::Av1] {
            assert!(!is_key_frame(c, &[]));
        }
    }

    #[test]
    fn garbage_does_not_parse() {
        assert!(parse(&[]).is_none());
        assert!(parse(&[0x80, 96, 0]).is_none());
        assert!(parse(&[0x00; 12]).is_none());
    }
}
