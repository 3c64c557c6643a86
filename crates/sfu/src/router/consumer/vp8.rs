//! A layered VP8 consumer's payload state (RFC 7741 payload descriptor): which temporal layers
//! go out, and picture ids / TL0PICIDX rewritten so the viewer's decoder sees them continue
//! across spatial switches (each simulcast stream numbers its own pictures) and across the
//! pictures of dropped temporal layers.

/// Where the fields of one packet's payload descriptor are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Descriptor {
    /// Picture id, whether it is the 15-bit form, and its byte offset in the payload.
    pub picture_id: Option<(u16, bool, usize)>,
    /// TL0PICIDX and its byte offset.
    pub tl0: Option<(u8, usize)>,
    /// Temporal layer id and the layer sync (Y) bit.
    pub tid: Option<(u8, bool)>,
}

impl Descriptor {
    pub fn parse(p: &[u8]) -> Option<Descriptor> {
        let b0 = *p.first()?;
        let mut d = Descriptor { picture_id: None, tl0: None, tid: None };
        if b0 & 0x80 == 0 {
            return Some(d);
        }
        let x = *p.get(1)?;
        let mut i = 2;
        if x & 0x80 != 0 {
            let hi = *p.get(i)?;
            if hi & 0x80 != 0 {
                let lo = *p.get(i + 1)?;
                d.picture_id = Some((u16::from(hi & 0x7f) << 8 | u16::from(lo), true, i));
                i += 2;
            } else {
                d.picture_id = Some((u16::from(hi), false, i));
                i += 1;
            }
        }
        if x & 0x40 != 0 {
            d.tl0 = Some((*p.get(i)?, i));
            i += 1;
        }
        if x & 0x30 != 0 {
            let t = *p.get(i)?;
            // TID is only meaningful with the T bit.
            if x & 0x20 != 0 {
                d.tid = Some((t >> 6, t & 0x20 != 0));
            }
        }
        Some(d)
    }
}

/// The picture id space: 15 bits, or 7 for senders that use the short form.
fn pid_mask(long: bool) -> u16 {
    if long {
        0x7fff
    } else {
        0x7f
    }
}

/// Whether picture id `a` is newer than `b` (15-bit wrap).
fn pid_newer(a: u16, b: u16) -> bool {
    let d = a.wrapping_sub(b) & 0x7fff;
    d != 0 && d < 0x4000
}

#[derive(Debug, Default)]
pub struct Vp8Context {
    /// output = input + offset, per field.
    pid_offset: u16,
    tl0_offset: u8,
    /// Highest input picture id seen since the last sync, and whether its picture is dropped.
    last_pid: Option<u16>,
    last_dropped: bool,
    /// Highest output values sent: a sync continues after them.
    max_out_pid: Option<u16>,
    max_out_tl0: Option<u8>,
    sync: bool,
    /// Temporal layer going out now, and the one wanted.
    pub current_temporal: Option<u8>,
    pub target_temporal: u8,
}

/// What to do with a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Send it (after `rewrite`).
    Forward,
    /// A picture of a temporal layer not sent: drop it (the caller keeps sequence numbers
    /// continuous).
    Drop,
}

impl Vp8Context {
    pub fn new(target_temporal: u8) -> Self {
        Vp8Context { target_temporal, ..Default::default() }
    }

    /// The next forwarded picture starts a new numbering (after a switch or a restart).
    pub fn sync_required(&mut self) {
        self.sync = true;
    }

    /// Decides on a packet. Pictures are decided by their first packet; temporal layers go
    /// down at once and up only at a picture that may switch (Y bit, or within the current).
    pub fn on_packet(&mut self, d: &Descriptor) -> Verdict {
        if self.sync {
            if let (Some((pid, _, _)), Some((tl0, _))) = (d.picture_id, d.tl0) {
                self.pid_offset = self.max_out_pid.map_or(0, |m| m.wrapping_add(1).wrapping_sub(pid));
                self.tl0_offset = self.max_out_tl0.map_or(0, |m| m.wrapping_add(1).wrapping_sub(tl0));
            } else if let Some((pid, _, _)) = d.picture_id {
                self.pid_offset = self.max_out_pid.map_or(0, |m| m.wrapping_add(1).wrapping_sub(pid));
            }
            self.sync = false;
            self.last_pid = None;
            self.last_dropped = false;
            // Key frames are TID 0: the temporal layer starts from the bottom.
            self.current_temporal = Some(d.tid.map_or(0, |(t, _)| t).min(self.target_temporal));
        }
        let Some((pid, _, _)) = d.picture_id else { return Verdict::Forward };
        let new_picture = self.last_pid.is_none_or(|last| pid_newer(pid, last));
        if !new_picture {
            // Same picture as the last decided one (or an older, late one): same verdict as its
            // picture had when it was the latest; late packets of other pictures go out.
            return if Some(pid) == self.last_pid && self.last_dropped { Verdict::Drop } else { Verdict::Forward };
        }
        self.last_pid = Some(pid);
        let current = self.current_temporal.unwrap_or(0).min(self.target_temporal);
        let (tid, y) = d.tid.unwrap_or((0, false));
        let drop = tid > self.target_temporal || (tid > current && !y);
        self.last_dropped = drop;
        if drop {
            // The pictures after it move down by one: the viewer sees no gap in picture ids.
            self.pid_offset = self.pid_offset.wrapping_sub(1);
            self.current_temporal = Some(current);
            return Verdict::Drop;
        }
        self.current_temporal = Some(if tid > current { tid } else { current });
        Verdict::Forward
    }

    /// The picture id and TL0PICIDX offsets [`Vp8Context::rewrite`] applies now (kept with a
    /// sent packet, so that a retransmission carries the same ids).
    pub fn offsets(&self) -> (u16, u8) {
        (self.pid_offset, self.tl0_offset)
    }

    /// Writes the output picture id and TL0PICIDX into a copy of the payload.
    pub fn rewrite(&mut self, d: &Descriptor, payload: &mut [u8]) {
        let (pid, tl0) = write_ids(d, payload, self.offsets());
        if let Some(out) = pid {
            if self.max_out_pid.is_none_or(|m| pid_newer(out & 0x7fff, m)) {
                self.max_out_pid = Some(out);
            }
        }
        if let Some(out) = tl0 {
            if self.max_out_tl0.is_none_or(|m| (out.wrapping_sub(m) as i8) > 0) {
                self.max_out_tl0 = Some(out);
            }
        }
    }
}

/// Writes the picture id and TL0PICIDX shifted by `offsets` into `payload` (whose descriptor is
/// `d`); returns what it wrote.
pub fn write_ids(d: &Descriptor, payload: &mut [u8], (pid_offset, tl0_offset): (u16, u8)) -> (Option<u16>, Option<u8>) {
    let mut written = (None, None);
    if let Some((pid, long, at)) = d.picture_id {
        let out = pid.wrapping_add(pid_offset) & pid_mask(long);
        if long {
            payload[at] = 0x80 | (out >> 8) as u8;
            payload[at + 1] = out as u8;
        } else {
            payload[at] = out as u8;
        }
        written.0 = Some(out);
    }
    if let Some((tl0, at)) = d.tl0 {
        let out = tl0.wrapping_add(tl0_offset);
        payload[at] = out;
        written.1 = Some(out);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A descriptor with X, I (15-bit), L and T: [b0, x, pid hi, pid lo, tl0, tid|y].
    fn payload(pid: u16, tl0: u8, tid: u8, y: bool, key: bool) -> Vec<u8> {
        let b0 = 0x90; // X, S, partition 0
        let t = tid << 6 | if y { 0x20 } else { 0 };
        vec![b0, 0xe0, 0x80 | (pid >> 8) as u8, pid as u8, tl0, t, if key { 0x00 } else { 0x01 }]
    }

    fn run(ctx: &mut Vp8Context, pid: u16, tl0: u8, tid: u8, y: bool) -> Option<(u16, u8)> {
        let mut p = payload(pid, tl0, tid, y, false);
        let d = Descriptor::parse(&p).unwrap();
        if ctx.on_packet(&d) == Verdict::Drop {
            return None;
        }
        ctx.rewrite(&d, &mut p);
        let out = Descriptor::parse(&p).unwrap();
        Some((out.picture_id.unwrap().0, out.tl0.unwrap().0))
    }

    #[test]
    fn parses_every_form_of_the_descriptor() {
        assert_eq!(Descriptor::parse(&[0x10, 0x00]).unwrap(), Descriptor { picture_id: None, tl0: None, tid: None });
        let d = Descriptor::parse(&payload(0x1234, 7, 2, true, true)).unwrap();
        assert_eq!(d.picture_id, Some((0x1234, true, 2)));
        assert_eq!(d.tl0, Some((7, 4)));
        assert_eq!(d.tid, Some((2, true)));
        // 7-bit picture id, no TL0PICIDX, K without T: no temporal id.
        let d = Descriptor::parse(&[0x90, 0x90, 0x05, 0x1f]).unwrap();
        assert_eq!(d.picture_id, Some((5, false, 2)));
        assert_eq!(d.tid, None);
        // Truncated descriptors are refused, never read past the end.
        for cut in 1..6 {
            assert!(Descriptor::parse(&payload(0x1234, 7, 2, true, true)[..cut]).is_none(), "cut at {cut}");
        }
        assert!(Descriptor::parse(&[]).is_none());
    }

    #[test]
    fn dropped_temporal_layers_leave_no_gap_in_picture_ids() {
        // L1T3 pattern: tids 0 2 1 2 0 2 1 2 …; only layers 0 and 1 wanted.
        let mut ctx = Vp8Context::new(1);
        ctx.sync_required();
        let tids = [0u8, 2, 1, 2, 0, 2, 1, 2, 0];
        let mut out = Vec::new();
        let mut tl0 = 10u8;
        for (i, &tid) in tids.iter().enumerate() {
            if tid == 0 && i > 0 {
                tl0 += 1;
            }
            if let Some(v) = run(&mut ctx, 100 + i as u16, tl0, tid, true) {
                out.push(v);
            }
        }
        assert_eq!(out, vec![(100, 10), (101, 10), (102, 11), (103, 11), (104, 12)]);
        assert_eq!(ctx.current_temporal, Some(1));
    }

    #[test]
    fn temporal_layers_go_up_only_at_a_sync_picture_and_down_at_once() {
        let mut ctx = Vp8Context::new(0);
        ctx.sync_required();
        assert!(run(&mut ctx, 1, 1, 0, false).is_some());
        assert!(run(&mut ctx, 2, 1, 1, true).is_none(), "above the target");
        ctx.target_temporal = 2;
        assert!(run(&mut ctx, 3, 1, 2, false).is_none(), "no Y bit: cannot switch up here");
        assert!(run(&mut ctx, 4, 2, 1, true).is_some(), "Y bit: up to 1");
        assert_eq!(ctx.current_temporal, Some(1));
        assert!(run(&mut ctx, 5, 2, 2, true).is_some());
        assert_eq!(ctx.current_temporal, Some(2));
        ctx.target_temporal = 0;
        assert!(run(&mut ctx, 6, 2, 1, true).is_none(), "down at once");
        assert!(run(&mut ctx, 7, 3, 0, false).is_some());
    }

    #[test]
    fn a_new_source_continues_the_numbering() {
        let mut ctx = Vp8Context::new(2);
        ctx.sync_required();
        assert_eq!(run(&mut ctx, 0x7ffe, 250, 0, false), Some((0x7ffe, 250)));
        assert_eq!(run(&mut ctx, 0x7fff, 251, 0, false), Some((0x7fff, 251)));
        // Another stream with its own picture ids and TL0PICIDX: continues after the last.
        ctx.sync_required();
        assert_eq!(run(&mut ctx, 500, 3, 0, false), Some((0, 252)));
        assert_eq!(run(&mut ctx, 501, 4, 0, false), Some((1, 253)));
        // Packets of the same picture keep its number.
        assert_eq!(run(&mut ctx, 501, 4, 0, false), Some((1, 253)));
    }
}
