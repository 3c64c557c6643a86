//! RTCP compound parsing: what a NACK expands to is bounded by its size.
#![no_main]
use ferrosoup_sfu::rtp::rtcp::{self, Feedback};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(fb) = rtcp::parse(data) else { return };
    let nacked: usize = fb.iter().map(|f| if let Feedback::Nack { seqs, .. } = f { seqs.len() } else { 0 }).sum();
    // A NACK item is 4 bytes and names at most 17 packets.
    assert!(nacked <= data.len() / 4 * 17, "{nacked} from {} bytes", data.len());
});
