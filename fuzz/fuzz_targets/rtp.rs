//! RTP parsing, rewriting for a consumer, RTX wrapping and key frame detection.
#![no_main]
use ferrosoup_sfu::rtp::{self, ExtIds, Rewrite, VideoCodec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for codec in [VideoCodec::Vp8, VideoCodec::Vp9, VideoCodec::H264, VideoCodec::Av1] {
        let _ = rtp::is_key_frame(codec, data);
    }
    let Some(p) = rtp::parse(data) else { return };
    let producer = ExtIds { all: vec![(1, rtp::URI_MID.into()), (2, rtp::URI_ABS_SEND_TIME.into()), (3, rtp::URI_TRANSPORT_CC.into()), (4, rtp::URI_VIDEO_ORIENTATION.into())] };
    let consumer = ExtIds { all: vec![(5, rtp::URI_MID.into()), (6, rtp::URI_TRANSPORT_CC.into()), (7, rtp::URI_VIDEO_ORIENTATION.into())] };
    let w = Rewrite { ssrc: 1, seq: 2, timestamp: 3, payload_type: 96, mid: Some("0"), transport_cc_seq: Some(9), abs_send_time: 1 };
    if let Some(out) = rtp::rewrite(&p, &producer, &consumer, &w) {
        let q = rtp::parse(&out).expect("what we write parses");
        assert_eq!((q.header.ssrc, q.header.sequence_number, q.header.timestamp), (1, 2, 3));
        assert_eq!(q.payload, p.payload);
        if let Some(rtx) = rtp::to_rtx(&out, 7, 97, 5) {
            let r = rtp::parse(&rtx).expect("RTX parses");
            let back = rtp::from_rtx(r, 1, 96).expect("unwraps");
            assert_eq!((back.header.sequence_number, back.payload.clone()), (2, q.payload.clone()));
        }
    }
});
