//! A VP9 SVC consumer's layer filter (RFC 9628 payload descriptor): spatial layers above the
//! target are dropped, and the end of the highest forwarded layer frame gets the RTP marker (the
//! receiver's end of picture); temporal layers above the target are dropped. Going up a spatial
//! layer waits for a key frame (it depends on the layer's earlier frames, which were not sent);
//! going down happens at the start of the next picture.

pub use crate::rtp::vp9::Descriptor;

#[derive(Debug)]
pub struct Vp9Context {
    pub target: (u8, u8),
    /// Layers going out; `None` until the first key picture.
    pub current: Option<(u8, u8)>,
}

impl Vp9Context {
    /// (Full SVC and K-SVC alike: going up needs a key picture, as mediasoup asks for one.)
    pub fn new(target: (u8, u8)) -> Self {
        Vp9Context { target, current: None }
    }

    /// Start again at the next key picture.
    pub fn sync_required(&mut self) {
        self.current = None;
    }

    /// Whether going to the target needs a key picture.
    pub fn needs_key_frame(&self) -> bool {
        match self.current {
            None => true,
            Some((s, _)) => self.target.0 > s,
        }
    }

    /// `None`: drop it. `Some(marker)`: forward it with this RTP marker.
    pub fn on_packet(&mut self, d: &Descriptor, marker: bool) -> Option<bool> {
        let (ts, tt) = self.target;
        let (mut cs, mut ct) = match self.current {
            None if d.is_key() => (ts, 0),
            None => return None,
            Some(c) => c,
        };
        if d.is_key() && ts > cs {
            cs = ts; // up, at a key picture
        }
        if d.begins && d.sid == 0 && ts < cs {
            cs = ts; // down, at the next picture
        }
        if tt < ct {
            ct = tt;
        }
        if d.tid > ct && d.tid <= tt && (d.switch_up || d.is_key()) {
            ct = d.tid;
        }
        self.current = Some((cs, ct));
        if d.sid > cs || d.tid > ct {
            return None;
        }
        // The end of the highest layer frame sent ends the picture for the receiver.
        Some(marker || (d.sid == cs && d.ends))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// I (15-bit pid), L, non-flexible: [b0, pid hi, pid lo, tid|u|sid|d, tl0].
    fn packet(pid: u16, sid: u8, tid: u8, key: bool, begins: bool, ends: bool) -> Vec<u8> {
        let b0 = 0x80 | 0x20 | if key && sid == 0 { 0 } else { 0x40 } | if begins { 0x08 } else { 0 } | if ends { 0x04 } else { 0 };
        vec![b0, 0x80 | (pid >> 8) as u8, pid as u8, tid << 5 | 0x10 | sid << 1, 0]
    }

    /// One picture of L3T1: each spatial layer one packet; the top one carries the marker.
    fn picture(ctx: &mut Vp9Context, pid: u16, key: bool) -> Vec<(u8, bool)> {
        (0..3u8)
            .filter_map(|sid| {
                let d = Descriptor::parse(&packet(pid, sid, 0, key, true, true)).unwrap();
                ctx.on_packet(&d, sid == 2).map(|m| (sid, m))
            })
            .collect()
    }

    #[test]
    fn parses_the_descriptor() {
        let d = Descriptor::parse(&packet(300, 2, 1, false, true, false)).unwrap();
        assert_eq!((d.picture_id, d.sid, d.tid, d.switch_up, d.begins, d.ends, d.predicted), (Some(300), 2, 1, true, true, false, true));
        assert!(Descriptor::parse(&packet(1, 0, 0, true, true, true)).unwrap().is_key());
        assert!(Descriptor::parse(&[0xa0]).is_none(), "truncated");
        assert!(Descriptor::parse(&[]).is_none());
    }

    #[test]
    fn spatial_layers_up_at_a_key_picture_down_at_the_next_picture_with_the_marker_moved() {
        let mut ctx = Vp9Context::new((1, 0));
        assert_eq!(picture(&mut ctx, 1, false), vec![], "waits for a key picture");
        assert_eq!(picture(&mut ctx, 2, true), vec![(0, false), (1, true)]);
        assert_eq!(picture(&mut ctx, 3, false), vec![(0, false), (1, true)]);
        ctx.target = (2, 0);
        assert!(ctx.needs_key_frame());
        assert_eq!(picture(&mut ctx, 4, false), vec![(0, false), (1, true)], "not up without a key picture");
        assert_eq!(picture(&mut ctx, 5, true), vec![(0, false), (1, false), (2, true)]);
        ctx.target = (0, 0);
        assert!(!ctx.needs_key_frame());
        assert_eq!(picture(&mut ctx, 6, false), vec![(0, true)], "down at once");
    }

    #[test]
    fn temporal_layers_are_dropped_above_the_target() {
        let mut ctx = Vp9Context::new((0, 0));
        let run = |ctx: &mut Vp9Context, tid: u8, key: bool| ctx.on_packet(&Descriptor::parse(&packet(9, 0, tid, key, true, true)).unwrap(), true).is_some();
        assert!(run(&mut ctx, 0, true));
        assert!(!run(&mut ctx, 1, false));
        ctx.target = (0, 2);
        assert!(run(&mut ctx, 2, false), "switching-up point");
        ctx.target = (0, 1);
        assert!(!run(&mut ctx, 2, false));
        assert!(run(&mut ctx, 1, false));
    }
}
