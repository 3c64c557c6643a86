//! RFC 4571 deframing of a byte stream delivered in arbitrary chunks: the frames that come out
//! are exactly the stream's, and what waits for the rest of a frame stays bounded.
#![no_main]
use ferrosoup_sfu::net::framing::{frame, Deframer, MAX_FRAME};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, stream)) = data.split_first() else { return };
    let chunk = usize::from(chunk).max(1);
    let mut d = Deframer::default();
    let mut frames = Vec::new();
    for part in stream.chunks(chunk) {
        d.push(part);
        while let Some(f) = d.next_frame() {
            frames.push(f.to_vec());
        }
        assert!(d.pending() < 2 + MAX_FRAME + chunk);
    }
    let rebuilt: Vec<u8> = frames.iter().flat_map(|f| frame(f).unwrap()).collect();
    assert_eq!(&stream[..rebuilt.len()], &rebuilt[..]);
    assert_eq!(rebuilt.len() + d.pending(), stream.len());
});
