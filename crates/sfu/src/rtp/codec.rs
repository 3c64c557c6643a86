//! Video codecs and key frame detection in their RTP payloads.

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

}
