//! Writes the packet a consumer sends straight from the producer's parsed packet into one
//! buffer: no intermediate packet, no per-extension copies, room left for the SRTP tag so
//! protecting it in place does not grow the buffer. The extension plan (where each of the
//! consumer's extensions comes from) is worked out once per consumer, not per packet.

use rtc_rtp::packet::Packet;

use super::ext::*;

/// Room for the longest SRTP/SRTCP authentication tag (AES-GCM: 16 bytes).
pub const TAG_ROOM: usize = 16;
/// Room for the padding `pad_to` may add.
const PAD_ROOM: usize = 15;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Source {
    Mid,
    AbsSendTime,
    TransportCc,
    /// The producer's extension with this id.
    Producer(u8),
}

/// For each extension the consumer negotiated (its id), what goes in it.
#[derive(Clone, Debug, Default)]
pub struct ExtPlan {
    items: Vec<(u8, Source)>,
}

impl ExtPlan {
    pub fn new(producer: &ExtIds, consumer: &ExtIds) -> Self {
        let items = consumer
            .all
            .iter()
            .filter_map(|(cid, uri)| {
                let source = match uri.as_str() {
                    URI_MID => Source::Mid,
                    URI_ABS_SEND_TIME => Source::AbsSendTime,
                    URI_TRANSPORT_CC => Source::TransportCc,
                    // Receive-only in mediasoup's capabilities: never forwarded.
                    URI_RID | URI_RRID => return None,
                    other => Source::Producer(producer.id(other)?),
                };
                Some((*cid, source))
            })
            .collect();
        ExtPlan { items }
    }
}

/// Sends it as RTX (RFC 4588): this SSRC, payload type and sequence number, the media
/// sequence number in front of the payload.
#[derive(Clone, Copy, Debug)]
pub struct AsRtx {
    pub ssrc: u32,
    pub payload_type: u8,
    pub seq: u16,
}

/// `p` as the consumer sends it (see [`super::Rewrite`]), with [`TAG_ROOM`] spare capacity.
pub fn write(p: &Packet, plan: &ExtPlan, w: &super::Rewrite<'_>, rtx: Option<AsRtx>) -> Vec<u8> {
    write_into(Vec::new(), p, plan, w, rtx)
}

/// [`write`] into `b` (cleared first; a buffer to reuse).
pub fn write_into(mut b: Vec<u8>, p: &Packet, plan: &ExtPlan, w: &super::Rewrite<'_>, rtx: Option<AsRtx>) -> Vec<u8> {
    let abs = w.abs_send_time.to_be_bytes();
    let tcc = w.transport_cc_seq.map(u16::to_be_bytes);
    let value = |source: Source| -> Option<&[u8]> {
        let v: &[u8] = match source {
            Source::Mid => w.mid?.as_bytes(),
            Source::AbsSendTime => &abs[1..],
            Source::TransportCc => tcc.as_ref()?,
            Source::Producer(id) => ext_value(p, Some(id))?,
        };
        (!v.is_empty() && v.len() <= 255).then_some(v)
    };
    // The one-byte form carries values of 1 to 16 bytes with ids up to 14; anything else (the
    // AV1 dependency descriptor's template structures, for one) needs the two-byte form.
    let mut two_byte = false;
    let mut ext_len = 0;
    for &(id, source) in &plan.items {
        if let Some(v) = value(source) {
            two_byte |= v.len() > 16 || id > 14;
            ext_len += v.len();
            ext_len += 1;
        }
    }
    let any_ext = ext_len > 0;
    if two_byte {
        ext_len += plan.items.iter().filter(|(_, s)| value(*s).is_some()).count();
    }
    let ext_block = ext_len.div_ceil(4) * 4;
    let csrc = p.header.csrc.len().min(15);
    // Padding-only packets keep 4 bytes of padding; regular packets never carry any here.
    let padding_only = p.payload.is_empty() && p.header.padding && rtx.is_none();
    let payload_len = p.payload.len() + if rtx.is_some() { 2 } else { 0 } + if padding_only { 4 } else { 0 };
    let len = 12 + 4 * csrc + if any_ext { 4 + ext_block } else { 0 } + payload_len;
    b.clear();
    b.reserve(len + PAD_ROOM + TAG_ROOM);
    let (pt, seq, ssrc) = match rtx {
        Some(r) => (r.payload_type, r.seq, r.ssrc),
        None => (w.payload_type, w.seq, w.ssrc),
    };
    b.push(0x80 | if padding_only { 0x20 } else { 0 } | if any_ext { 0x10 } else { 0 } | csrc as u8);
    b.push(if p.header.marker { 0x80 } else { 0 } | (pt & 0x7f));
    b.extend_from_slice(&seq.to_be_bytes());
    b.extend_from_slice(&w.timestamp.to_be_bytes());
    b.extend_from_slice(&ssrc.to_be_bytes());
    for c in &p.header.csrc[..csrc] {
        b.extend_from_slice(&c.to_be_bytes());
    }
    if any_ext {
        let profile: u16 = if two_byte { 0x1000 } else { 0xBEDE };
        b.extend_from_slice(&profile.to_be_bytes());
        b.extend_from_slice(&((ext_block / 4) as u16).to_be_bytes());
        let start = b.len();
        for &(id, source) in &plan.items {
            let Some(v) = value(source) else { continue };
            if two_byte {
                b.push(id);
                b.push(v.len() as u8);
            } else {
                b.push(id << 4 | (v.len() - 1) as u8);
            }
            b.extend_from_slice(v);
        }
        b.resize(start + ext_block, 0);
    }
    if rtx.is_some() {
        b.extend_from_slice(&w.seq.to_be_bytes());
    }
    b.extend_from_slice(&p.payload);
    if padding_only {
        b.extend_from_slice(&[0, 0, 0, 4]);
    }
    debug_assert_eq!(b.len(), len);
    b
}
/// Pads packet `b` (RTP padding: the P bit, then zeros and the count) to a multiple of
/// `multiple` bytes (up to 16); a packet that already has padding, or is a multiple, stays.
/// Two packets of a frame that differ by a byte then leave at one size: one UDP segmentation
/// offload message carries both.
pub fn pad_to(b: &mut Vec<u8>, multiple: u8) {
    let m = usize::from(multiple.min(16));
    if m < 2 || b.len() < 12 || b[0] & 0x20 != 0 || b.len() % m == 0 {
        return;
    }
    let n = m - b.len() % m;
    b[0] |= 0x20;
    b.resize(b.len() + n - 1, 0);
    b.push(n as u8);
}

