//! RFC 4571 framing for ICE over TCP: each datagram is a 2-byte big-endian length and the bytes.
//! The deframer is fed whatever the stream delivers and yields whole frames; a connection that
//! announces nothing but empty frames or sends forever without a frame is bounded by the caller.

/// Largest frame RFC 4571 can carry.
pub const MAX_FRAME: usize = u16::MAX as usize;

#[derive(Default)]
pub struct Deframer {
    buf: Vec<u8>,
    start: usize,
}

impl Deframer {
    /// Appends bytes read from the stream.
    pub fn push(&mut self, data: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// The next complete frame, if one is buffered.
    pub fn next_frame(&mut self) -> Option<&[u8]> {
        let avail = &self.buf[self.start..];
        if avail.len() < 2 {
            self.compact();
            return None;
        }
        let len = usize::from(u16::from_be_bytes([avail[0], avail[1]]));
        if avail.len() < 2 + len {
            self.compact();
            return None;
        }
        let from = self.start + 2;
        self.start = from + len;
        Some(&self.buf[from..from + len])
    }

    /// Bytes waiting for the rest of their frame.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.start
    }

    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }
}

/// `data` with its RFC 4571 length prefix, or `None` if it is too large to frame.
pub fn frame(data: &[u8]) -> Option<Vec<u8>> {
    if data.len() > MAX_FRAME {
        return None;
    }
    let mut out = Vec::with_capacity(2 + data.len());
    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
    out.extend_from_slice(data);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_and_joined_anywhere() {
        let frames: Vec<Vec<u8>> = vec![vec![1, 2, 3], vec![], vec![9; 300], vec![4]];
        let stream: Vec<u8> = frames.iter().flat_map(|f| frame(f).unwrap()).collect();
        for chunk in [1, 2, 3, 7, 500] {
            let mut d = Deframer::default();
            let mut got = Vec::new();
            for part in stream.chunks(chunk) {
                d.push(part);
                while let Some(f) = d.next_frame() {
                    got.push(f.to_vec());
                }
            }
            assert_eq!(got, frames, "chunk {chunk}");
            assert_eq!(d.pending(), 0);
        }
        assert!(frame(&vec![0; MAX_FRAME + 1]).is_none());
    }
}
