use super::*;
use rtc_srtp::context::Context;
use rtc_srtp::protection_profile::ProtectionProfile;

const PROFILES: [(Profile, ProtectionProfile); 4] = [
    (Profile::AesCm128HmacSha1_80, ProtectionProfile::Aes128CmHmacSha1_80),
    (Profile::AesCm128HmacSha1_32, ProtectionProfile::Aes128CmHmacSha1_32),
    (Profile::AeadAes128Gcm, ProtectionProfile::AeadAes128Gcm),
    (Profile::AeadAes256Gcm, ProtectionProfile::AeadAes256Gcm),
];

fn master(profile: Profile, fill: u8) -> Vec<u8> {
    (0..profile.master_len()).map(|i| fill.wrapping_add(i as u8 * 7)).collect()
}

fn rtp(seq: u16, ssrc: u32, payload: usize) -> Vec<u8> {
    let mut p = vec![0x90, 96, (seq >> 8) as u8, seq as u8, 0, 0, 0x12, 0x34];
    p.extend_from_slice(&ssrc.to_be_bytes());
    // One-byte header extension block with one element (id 1, 2 bytes) + padding.
    p.extend_from_slice(&[0xBE, 0xDE, 0x00, 0x01, 0x11, 0xAA, 0xBB, 0x00]);
    p.extend((0..payload).map(|i| i as u8));
    p
}

fn rtcp(ssrc: u32) -> Vec<u8> {
    // A receiver report with one block.
    let mut p = vec![0x81, 201, 0, 7];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[9; 24]);
    p
}

/// The reference implementation (webrtc-rs) with the same master keys.
fn oracle(profile: ProtectionProfile, m: &[u8], replay: bool) -> Context {
    let kl = profile.key_len();
    let opts = |_: ()| if replay { Some(rtc_srtp::option::srtp_replay_protection(1024)) } else { None };
    let _ = opts;
    Context::new(&m[..kl], &m[kl..], profile, None, None, crate::net::crypto().crypto()).unwrap()
}

#[test]
fn key_derivation_matches_rfc3711_b3() {
    let key = [0xE1, 0xF9, 0x7A, 0x0D, 0x3E, 0x01, 0x8B, 0xE0, 0xD6, 0x4F, 0xA3, 0x2C, 0x06, 0xDE, 0x41, 0x39];
    let salt = [0x0E, 0xC6, 0x75, 0xAD, 0x49, 0x8A, 0xFE, 0xEB, 0xB6, 0x96, 0x0B, 0x3A, 0xAB, 0xE6];
    let hex = |v: &[u8]| v.iter().map(|b| format!("{b:02X}")).collect::<String>();
    assert_eq!(hex(&derive(&key, &salt, 0, 16)), "C61E7A93744F39EE10734AFE3FF7A087");
    assert_eq!(hex(&derive(&key, &salt, 2, 14)), "30CBBC08863D8C85D49DB34A9AE1");
    assert_eq!(hex(&derive(&key, &salt, 1, 20)), "CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4");
}

#[test]
fn interoperates_with_the_reference_implementation_in_every_profile() {
    for (ours, theirs) in PROFILES {
        let (a, b) = (master(ours, 1), master(ours, 77));
        let mut us = SrtpSession::new(ours, &a, &b).unwrap();
        let mut them_tx = oracle(theirs, &b, false);
        let mut them_rx = oracle(theirs, &a, false);
        // Across a wrap of the sequence numbers.
        for seq in (65_530u16..=65_535).chain(0..6) {
            let plain = rtp(seq, 0xCAFE, 100);
            let sealed = us.encrypt_rtp(&plain).unwrap();
            assert_eq!(them_rx.decrypt_rtp(&sealed).unwrap().as_ref(), &plain[..], "{ours:?} ours → theirs seq {seq}");
            let sealed = them_tx.encrypt_rtp(&plain).unwrap();
            assert_eq!(us.decrypt_rtp(&sealed).unwrap(), plain, "{ours:?} theirs → ours seq {seq}");
        }
        for _ in 0..3 {
            let plain = rtcp(0xBEEF);
            let sealed = us.encrypt_rtcp(&plain).unwrap();
            assert_eq!(them_rx.decrypt_rtcp(&sealed).unwrap().as_ref(), &plain[..], "{ours:?} RTCP ours → theirs");
            let sealed = them_tx.encrypt_rtcp(&plain).unwrap();
            assert_eq!(us.decrypt_rtcp(&sealed).unwrap(), plain, "{ours:?} RTCP theirs → ours");
        }
    }
}

#[test]
fn replays_tampering_and_forged_streams_are_rejected_without_state() {
    for (profile, _) in PROFILES {
        let (a, b) = (master(profile, 3), master(profile, 9));
        let mut tx = SrtpSession::new(profile, &a, &b).unwrap();
        let mut rx = SrtpSession::new(profile, &b, &a).unwrap();
        let sealed = tx.encrypt_rtp(&rtp(10, 1, 50)).unwrap();
        assert!(rx.decrypt_rtp(&sealed).is_ok());
        assert_eq!(rx.decrypt_rtp(&sealed), Err(SrtpError::Replayed));
        let mut bad = tx.encrypt_rtp(&rtp(11, 1, 50)).unwrap();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(rx.decrypt_rtp(&bad), Err(SrtpError::AuthFailed));
        // Forged packets with ever new SSRCs: all fail, and leave nothing behind.
        for ssrc in 0..10_000u32 {
            let mut forged = rtp(5, 1_000_000 + ssrc, 50);
            forged.extend_from_slice(&[0; 16]);
            assert_eq!(rx.decrypt_rtp(&forged), Err(SrtpError::AuthFailed));
            let mut f = rtcp(2_000_000 + ssrc);
            f.extend_from_slice(&[0x80, 0, 0, 1]);
            f.extend_from_slice(&[0; 16]);
            assert!(rx.decrypt_rtcp(&f).is_err());
        }
        assert_eq!(rx.receive_streams(), 1, "{profile:?}");
        let r = tx.encrypt_rtcp(&rtcp(1)).unwrap();
        assert!(rx.decrypt_rtcp(&r).is_ok());
        assert_eq!(rx.decrypt_rtcp(&r), Err(SrtpError::Replayed));
        assert!(rx.decrypt_rtp(&[0x80; 10]).is_err());
    }
}

#[test]
fn long_streams_late_packets_and_bounded_authenticated_streams() {
    let profile = Profile::AeadAes128Gcm;
    let (a, b) = (master(profile, 5), master(profile, 6));
    let mut tx = SrtpSession::new(profile, &a, &b).unwrap();
    let mut rx = SrtpSession::new(profile, &b, &a).unwrap();
    // 140,000 packets (two wraps); every 100th held back 300 packets and delivered late.
    let mut held = std::collections::VecDeque::new();
    for i in 0..140_000u32 {
        let sealed = tx.encrypt_rtp(&rtp(65_000u16.wrapping_add(i as u16), 7, 20)).unwrap();
        if i % 100 == 0 {
            held.push_back((i + 300, sealed));
        } else {
            assert!(rx.decrypt_rtp(&sealed).is_ok(), "packet {i}");
        }
        while held.front().is_some_and(|(due, _)| *due <= i) {
            let (_, late) = held.pop_front().unwrap();
            assert!(rx.decrypt_rtp(&late).is_ok(), "late packet before {i}");
        }
    }
    // Far too late (beyond the window): replay.
    let old = tx.encrypt_rtp(&rtp(1, 8, 20)).unwrap();
    for i in 2..3000u16 {
        rx.decrypt_rtp(&tx.encrypt_rtp(&rtp(i, 8, 20)).unwrap()).unwrap();
    }
    assert_eq!(rx.decrypt_rtp(&old), Err(SrtpError::Replayed));
    // A peer that authenticates with many SSRCs keeps at most MAX_STREAMS of them.
    for ssrc in 100..(100 + 3 * MAX_STREAMS as u32) {
        rx.decrypt_rtp(&tx.encrypt_rtp(&rtp(1, ssrc, 20)).unwrap()).unwrap();
    }
    assert!(rx.receive_streams() <= MAX_STREAMS);
}
