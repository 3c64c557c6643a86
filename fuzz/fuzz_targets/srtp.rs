//! SRTP/SRTCP input in each profile: garbage never authenticates, and a failed packet leaves no
//! receiving state behind.
#![no_main]
use ferrosoup_sfu::net::srtp::{Profile, SrtpSession};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, packet)) = data.split_first() else { return };
    let profile = [Profile::AesCm128HmacSha1_80, Profile::AesCm128HmacSha1_32, Profile::AeadAes128Gcm, Profile::AeadAes256Gcm][usize::from(sel & 3)];
    let key: Vec<u8> = (0..profile.master_len() as u8).collect();
    let mut s = SrtpSession::new(profile, &key, &key).unwrap();
    let mut buf = packet.to_vec();
    let r = if sel & 4 != 0 { s.unprotect_rtcp(&mut buf) } else { s.unprotect_rtp(&mut buf) };
    if r.is_err() {
        // (The buffer's content is unspecified after a failure: it is dropped.)
        assert_eq!(s.receive_streams(), 0, "state created by a packet that failed");
    }
    // What we protect, we can unprotect.
    let mut p = packet.to_vec();
    let ok = if sel & 4 != 0 { s.protect_rtcp(&mut p) } else { s.protect_rtp(&mut p) };
    if ok.is_ok() {
        let mut peer = SrtpSession::new(profile, &key, &key).unwrap();
        let back = if sel & 4 != 0 { peer.unprotect_rtcp(&mut p) } else { peer.unprotect_rtp(&mut p) };
        assert!(back.is_ok());
        assert_eq!(p, packet);
    }
});
