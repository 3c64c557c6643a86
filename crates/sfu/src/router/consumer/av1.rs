//! An SVC consumer's layer filter from the AV1 dependency descriptor header extension (AV1 RTP
//! spec, appendix A), the way the spatial and temporal ids of AV1 SVC streams are known: each
//! packet names a frame template; the template structure (sent with key frames) gives each
//! template's spatial and temporal id. Layers above the target are dropped and the end of the
//! highest spatial layer frame sent gets the RTP marker; going up a spatial layer waits for a
//! key frame, going down happens at the next frame.

/// Reads bits most significant first.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    fn read(&mut self, n: usize) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let byte = *self.data.get(self.pos / 8)?;
            v = (v << 1) | u32::from((byte >> (7 - self.pos % 8)) & 1);
            self.pos += 1;
        }
        Some(v)
    }
}

/// What one packet's descriptor says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Descriptor {
    pub start_of_frame: bool,
    pub end_of_frame: bool,
    pub template_id: u8,
    pub frame_number: u16,
    /// With a template structure: its id offset and each template's (spatial, temporal) id.
    pub structure: Option<(u8, Vec<(u8, u8)>)>,
}

impl Descriptor {
    pub fn parse(data: &[u8]) -> Option<Descriptor> {
        let mut b = Bits { data, pos: 0 };
        let start_of_frame = b.read(1)? == 1;
        let end_of_frame = b.read(1)? == 1;
        let template_id = b.read(6)? as u8;
        let frame_number = b.read(16)? as u16;
        let mut structure = None;
        if data.len() > 3 && b.read(1)? == 1 {
            // template_dependency_structure_present_flag: then active_decode_targets_present,
            // custom dtis, fdiffs, chains (4 bits), then the structure.
            b.read(4)?;
            let offset = b.read(6)? as u8;
            let _dt_cnt_minus_one = b.read(5)?;
            // template_layers(): each template's ids, in order, until next_layer_idc is 3.
            let (mut spatial, mut temporal) = (0u8, 0u8);
            let mut layers = Vec::new();
            loop {
                layers.push((spatial, temporal));
                if layers.len() > 64 {
                    return None;
                }
                match b.read(2)? {
                    0 => {}
                    1 => temporal = temporal.checked_add(1)?,
                    2 => {
                        temporal = 0;
                        spatial = spatial.checked_add(1)?;
                    }
                    _ => break,
                }
            }
            structure = Some((offset, layers));
        }
        Some(Descriptor { start_of_frame, end_of_frame, template_id, frame_number, structure })
    }
}

#[derive(Debug)]
pub struct Av1Context {
    pub target: (u8, u8),
    pub current: Option<(u8, u8)>,
    /// The latest template structure: id offset and per-template (spatial, temporal).
    structure: Option<(u8, Vec<(u8, u8)>)>,
}

impl Av1Context {
    pub fn new(target: (u8, u8)) -> Self {
        Av1Context { target, current: None, structure: None }
    }

    pub fn sync_required(&mut self) {
        self.current = None;
    }

    pub fn needs_key_frame(&self) -> bool {
        match self.current {
            None => true,
            Some((s, _)) => self.target.0 > s,
        }
    }

    /// The frame's (spatial, temporal) id from the structure in force.
    fn layers(&self, d: &Descriptor) -> Option<(u8, u8)> {
        let (offset, layers) = self.structure.as_ref()?;
        let idx = (usize::from(d.template_id) + 64 - usize::from(*offset)) % 64;
        layers.get(idx).copied()
    }

    /// `None`: drop it. `Some(marker)`: forward it with this RTP marker. Packets without a
    /// descriptor (or before any structure) go out as they are.
    pub fn on_packet(&mut self, d: Option<&Descriptor>, is_key: bool, marker: bool) -> Option<bool> {
        let Some(d) = d else { return Some(marker) };
        if let Some(s) = &d.structure {
            self.structure = Some(s.clone());
        }
        let Some((sid, tid)) = self.layers(d) else { return Some(marker) };
        let (ts, tt) = self.target;
        let (mut cs, mut ct) = match self.current {
            None if is_key => (ts, tt),
            None => return None,
            Some(c) => c,
        };
        if is_key && ts > cs {
            cs = ts; // up, at a key frame
        }
        if d.start_of_frame && sid == 0 && ts < cs {
            cs = ts; // down, at the next frame
        }
        ct = tt.min(ct.max(tid.min(tt)));
        self.current = Some((cs, ct));
        if sid > cs || tid > tt {
            return None;
        }
        Some(marker || (sid == cs && d.end_of_frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes bits most significant first.
    fn bits(fields: &[(u32, usize)]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut pos = 0;
        for &(v, n) in fields {
            for i in (0..n).rev() {
                if pos % 8 == 0 {
                    out.push(0);
                }
                if (v >> i) & 1 == 1 {
                    *out.last_mut().unwrap() |= 0x80 >> (pos % 8);
                }
                pos += 1;
            }
        }
        out
    }

    /// L2T2: templates (0,0) (0,1) (1,0) (1,1): next_layer_idc 1, 2, 1, 3.
    fn key_descriptor(template: u32) -> Vec<u8> {
        bits(&[(1, 1), (1, 1), (template, 6), (7, 16), (1, 1), (0, 4), (0, 6), (3, 5), (1, 2), (2, 2), (1, 2), (3, 2)])
    }

    fn plain(template: u32, start: bool, end: bool) -> Vec<u8> {
        bits(&[(u32::from(start), 1), (u32::from(end), 1), (template, 6), (8, 16)])
    }

    #[test]
    fn parses_mandatory_fields_and_template_layers() {
        let d = Descriptor::parse(&key_descriptor(0)).unwrap();
        assert_eq!((d.start_of_frame, d.end_of_frame, d.template_id, d.frame_number), (true, true, 0, 7));
        assert_eq!(d.structure, Some((0, vec![(0, 0), (0, 1), (1, 0), (1, 1)])));
        let d = Descriptor::parse(&plain(3, false, true)).unwrap();
        assert_eq!((d.template_id, d.end_of_frame, d.structure), (3, true, None));
        assert!(Descriptor::parse(&[0x80, 1]).is_none(), "truncated");
        // A structure that never ends is refused.
        assert!(Descriptor::parse(&bits(&[(0, 24), (1, 1), (0, 4), (0, 6), (0, 5), (0, 32), (0, 32), (0, 32), (0, 32), (0, 32)])).is_none());
    }

    #[test]
    fn spatial_and_temporal_layers_follow_the_target() {
        let mut ctx = Av1Context::new((0, 0));
        let key = Descriptor::parse(&key_descriptor(0)).unwrap();
        assert_eq!(ctx.on_packet(Some(&key), true, false), Some(true), "base layer frame ends the picture");
        let s1 = Descriptor::parse(&plain(2, true, true)).unwrap();
        assert_eq!(ctx.on_packet(Some(&s1), false, true), None, "spatial 1 dropped");
        let t1 = Descriptor::parse(&plain(1, true, true)).unwrap();
        assert_eq!(ctx.on_packet(Some(&t1), false, false), None, "temporal 1 dropped");
        ctx.target = (1, 1);
        assert!(ctx.needs_key_frame());
        assert_eq!(ctx.on_packet(Some(&s1), false, true), None, "not up without a key frame");
        assert_eq!(ctx.on_packet(Some(&t1), false, false), Some(true), "temporal 1 now (spatial 0, still the highest sent, ends the picture)");
        assert_eq!(ctx.on_packet(Some(&key), true, false), Some(false), "up at a key frame: base no longer ends it");
        assert_eq!(ctx.on_packet(Some(&s1), false, true), Some(true));
        assert_eq!(ctx.current, Some((1, 1)));
        // No descriptor: as it is.
        assert_eq!(ctx.on_packet(None, false, true), Some(true));
    }
}
