//! The VP9 RTP payload descriptor (RFC 9628): what the router reads of it (layer ids, frame
//! boundaries, picture id) for SVC layer selection and per-layer bitrates.

/// The fields of one packet's descriptor that the filter needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Descriptor {
    /// Inter-picture predicted (P), start (B) and end (E) of a layer frame.
    pub predicted: bool,
    pub begins: bool,
    pub ends: bool,
    /// Spatial and temporal layer ids and the switching-up point (U); 0/0/false without L.
    pub sid: u8,
    pub tid: u8,
    pub switch_up: bool,
    pub picture_id: Option<u16>,
}

impl Descriptor {
    pub fn parse(p: &[u8]) -> Option<Descriptor> {
        let b0 = *p.first()?;
        let (i, l) = (b0 & 0x80 != 0, b0 & 0x20 != 0);
        let mut d = Descriptor { predicted: b0 & 0x40 != 0, begins: b0 & 0x08 != 0, ends: b0 & 0x04 != 0, sid: 0, tid: 0, switch_up: false, picture_id: None };
        let mut at = 1;
        if i {
            let hi = *p.get(at)?;
            if hi & 0x80 != 0 {
                d.picture_id = Some(u16::from(hi & 0x7f) << 8 | u16::from(*p.get(at + 1)?));
                at += 2;
            } else {
                d.picture_id = Some(u16::from(hi));
                at += 1;
            }
        }
        if l {
            let layers = *p.get(at)?;
            d.tid = layers >> 5;
            d.switch_up = layers & 0x10 != 0;
            d.sid = (layers >> 1) & 0x07;
        }
        Some(d)
    }

    /// The first packet of a key picture (not predicted, base layer, start of the frame).
    pub fn is_key(&self) -> bool {
        !self.predicted && self.begins && self.sid == 0
    }
}
