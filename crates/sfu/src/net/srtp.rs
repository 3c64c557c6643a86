//! SRTP and SRTCP (RFC 3711; AES-GCM per RFC 7714), in place: packets are protected and
//! unprotected inside the caller's buffer, with no allocation per packet. The four profiles
//! WebRTC negotiates: AES_CM_128_HMAC_SHA1_80/_32 and AEAD_AES_128/256_GCM.
//!
//! A receiving stream (an SSRC's rollover counter and replay window) is created only once one of
//! its packets has authenticated, and a session keeps a bounded number of them: forged packets
//! with ever new SSRCs cost nothing.

use std::collections::HashMap;

use aes::cipher::{BlockEncrypt, KeyInit, KeyIvInit, StreamCipher};
use ring::aead;
use ring::hmac;

/// The SRTP protection profiles (DTLS-SRTP's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Profile {
    AesCm128HmacSha1_80,
    AesCm128HmacSha1_32,
    AeadAes128Gcm,
    AeadAes256Gcm,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Profile::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            Profile::AeadAes128Gcm => "AEAD_AES_128_GCM",
            Profile::AeadAes256Gcm => "AEAD_AES_256_GCM",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        [Profile::AesCm128HmacSha1_80, Profile::AesCm128HmacSha1_32, Profile::AeadAes128Gcm, Profile::AeadAes256Gcm]
            .into_iter()
            .find(|p| p.name() == s)
    }

    pub fn key_len(self) -> usize {
        match self {
            Profile::AeadAes256Gcm => 32,
            _ => 16,
        }
    }

    pub fn salt_len(self) -> usize {
        match self {
            Profile::AeadAes128Gcm | Profile::AeadAes256Gcm => 12,
            _ => 14,
        }
    }

    /// Master key ‖ salt length.
    pub fn master_len(self) -> usize {
        self.key_len() + self.salt_len()
    }

    fn gcm(self) -> bool {
        matches!(self, Profile::AeadAes128Gcm | Profile::AeadAes256Gcm)
    }

    fn rtp_tag_len(self) -> usize {
        match self {
            Profile::AesCm128HmacSha1_80 => 10,
            Profile::AesCm128HmacSha1_32 => 4,
            _ => 16,
        }
    }

    fn rtcp_tag_len(self) -> usize {
        match self {
            Profile::AesCm128HmacSha1_80 | Profile::AesCm128HmacSha1_32 => 10,
            _ => 16,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SrtpError {
    /// Too short or not RTP/RTCP.
    Malformed,
    /// The authentication tag does not match.
    AuthFailed,
    /// A packet index seen before (or older than the replay window).
    Replayed,
}

impl std::fmt::Display for SrtpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

/// Receiving streams a session keeps (the least recently used one makes room).
pub const MAX_STREAMS: usize = 64;
/// Replay window, in packets (RFC 3711 asks for at least 64; late NACK repairs need more).
const WINDOW: u64 = 1024;

const LABEL_RTP_ENC: u8 = 0;
const LABEL_RTP_AUTH: u8 = 1;
const LABEL_RTP_SALT: u8 = 2;
const LABEL_RTCP_ENC: u8 = 3;
const LABEL_RTCP_AUTH: u8 = 4;
const LABEL_RTCP_SALT: u8 = 5;

/// The key derivation PRF (AES in counter mode keyed by the master key, RFC 3711 §4.3.3 with
/// a key derivation rate of 0): `len` bytes for `label`.
fn derive(master_key: &[u8], master_salt: &[u8], label: u8, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 16);
    let mut i: u16 = 0;
    while out.len() < len {
        let mut block = [0u8; 16];
        block[..master_salt.len()].copy_from_slice(master_salt);
        block[7] ^= label;
        block[14..16].copy_from_slice(&i.to_be_bytes());
        let mut b = aes::Block::from(block);
        match master_key.len() {
            32 => aes::Aes256::new_from_slice(master_key).expect("key length").encrypt_block(&mut b),
            _ => aes::Aes128::new_from_slice(master_key).expect("key length").encrypt_block(&mut b),
        }
        out.extend_from_slice(&b);
        i += 1;
    }
    out.truncate(len);
    out
}

enum Cipher {
    /// AES-128 in counter mode + HMAC-SHA1 (RFC 3711).
    Cm { key: [u8; 16], auth: hmac::Key },
    /// AES-GCM (RFC 7714).
    Gcm(aead::LessSafeKey),
}

/// Session keys of one direction, for RTP or RTCP.
struct Keys {
    cipher: Cipher,
    salt: [u8; 14],
    tag_len: usize,
}

impl Keys {
    fn new(profile: Profile, master_key: &[u8], master_salt: &[u8], rtcp: bool) -> Self {
        let (enc, auth, salt_label) = if rtcp { (LABEL_RTCP_ENC, LABEL_RTCP_AUTH, LABEL_RTCP_SALT) } else { (LABEL_RTP_ENC, LABEL_RTP_AUTH, LABEL_RTP_SALT) };
        let enc_key = derive(master_key, master_salt, enc, profile.key_len());
        let mut salt = [0u8; 14];
        salt[..profile.salt_len()].copy_from_slice(&derive(master_key, master_salt, salt_label, profile.salt_len()));
        let cipher = if profile.gcm() {
            let alg = if profile == Profile::AeadAes256Gcm { &aead::AES_256_GCM } else { &aead::AES_128_GCM };
            Cipher::Gcm(aead::LessSafeKey::new(aead::UnboundKey::new(alg, &enc_key).expect("key length")))
        } else {
            let auth_key = derive(master_key, master_salt, auth, 20);
            let mut key = [0u8; 16];
            key.copy_from_slice(&enc_key);
            Cipher::Cm { key, auth: hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &auth_key) }
        };
        Keys { cipher, salt, tag_len: if rtcp { profile.rtcp_tag_len() } else { profile.rtp_tag_len() } }
    }

    /// AES-CM counter block: (salt·2^16) ⊕ (SSRC·2^64) ⊕ (index·2^16).
    fn cm_iv(&self, ssrc: u32, index: u64) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv[..14].copy_from_slice(&self.salt);
        for (i, b) in ssrc.to_be_bytes().iter().enumerate() {
            iv[4 + i] ^= b;
        }
        for (i, b) in index.to_be_bytes()[2..].iter().enumerate() {
            iv[8 + i] ^= b;
        }
        iv
    }

    fn cm_apply(key: &[u8; 16], iv: &[u8; 16], data: &mut [u8]) {
        let mut c = ctr::Ctr128BE::<aes::Aes128>::new(key.into(), iv.into());
        c.apply_keystream(data);
    }

    fn hmac_tag(auth: &hmac::Key, parts: &[&[u8]]) -> hmac::Tag {
        let mut ctx = hmac::Context::with_key(auth);
        for p in parts {
            ctx.update(p);
        }
        ctx.sign()
    }

    /// GCM nonce: (0x0000 ‖ SSRC ‖ ROC ‖ SEQ) ⊕ salt for RTP; (0x0000 ‖ SSRC ‖ 0x0000 ‖ index)
    /// ⊕ salt for RTCP (the 32-bit tail given here).
    fn gcm_nonce(&self, ssrc: u32, tail: [u8; 6]) -> aead::Nonce {
        let mut n = [0u8; 12];
        n[2..6].copy_from_slice(&ssrc.to_be_bytes());
        n[6..12].copy_from_slice(&tail);
        for (i, b) in n.iter_mut().enumerate() {
            *b ^= self.salt[i];
        }
        aead::Nonce::assume_unique_for_key(n)
    }
}

/// RFC 3711 §3.3.1: the packet index a sequence number most likely has, given the highest
/// sequence number and rollover counter so far.
fn estimate_index(roc: u32, highest: u16, seq: u16) -> u64 {
    let roc = i64::from(roc);
    let v = if highest < 32768 {
        if i64::from(seq) - i64::from(highest) > 32768 { roc - 1 } else { roc }
    } else if i64::from(highest) - 32768 > i64::from(seq) {
        roc + 1
    } else {
        roc
    };
    ((v.max(0) as u64) << 16) | u64::from(seq)
}

/// A receiving stream: the highest sequence number and rollover counter seen, and which of the
/// recent packet indexes arrived.
#[derive(Clone)]
struct RecvState {
    roc: u32,
    highest: u16,
    window: [u64; (WINDOW / 64) as usize],
    last_use: u64,
}

impl RecvState {
    fn new(seq: u16, roc: u32) -> Self {
        RecvState { roc, highest: seq, window: [0; (WINDOW / 64) as usize], last_use: 0 }
    }

    fn highest_index(&self) -> u64 {
        (u64::from(self.roc) << 16) | u64::from(self.highest)
    }

    fn estimate(&self, seq: u16) -> u64 {
        estimate_index(self.roc, self.highest, seq)
    }

    fn bit(&self, back: u64) -> bool {
        self.window[(back / 64) as usize] & (1 << (back % 64)) != 0
    }

    fn check(&self, index: u64) -> bool {
        let top = self.highest_index();
        if index > top {
            return true;
        }
        let back = top - index;
        back < WINDOW && !self.bit(back)
    }

    fn accept(&mut self, index: u64) {
        let top = self.highest_index();
        if index > top {
            let shift = index - top;
            if shift >= WINDOW {
                self.window = [0; (WINDOW / 64) as usize];
            } else {
                // Shift the bitmap left by `shift` bits (bit 0 = the highest index).
                let words = (shift / 64) as usize;
                let bits = shift % 64;
                let n = self.window.len();
                for i in (0..n).rev() {
                    let src = i.checked_sub(words);
                    let hi = src.map_or(0, |s| self.window[s] << bits);
                    let lo = if bits == 0 { 0 } else { src.and_then(|s| s.checked_sub(1)).map_or(0, |s| self.window[s] >> (64 - bits)) };
                    self.window[i] = hi | lo;
                }
            }
            self.window[0] |= 1;
            self.roc = (index >> 16) as u32;
            self.highest = index as u16;
        } else {
            let back = top - index;
            self.window[(back / 64) as usize] |= 1 << (back % 64);
        }
    }
}

/// Sending streams: per SSRC (sorted, for a binary search: a transport sends a few, or a
/// couple per consumer) the rollover counter and highest sequence number sent. Looked up for
/// every packet sent, so small and without hashing.
#[derive(Default)]
struct TxStreams {
    /// (SSRC, rollover counter, highest sequence number).
    streams: Vec<(u32, u32, u16)>,
}

impl TxStreams {
    /// The packet index of `seq` sent on `ssrc` (RFC 3711 §3.3.1), remembered.
    fn sent(&mut self, ssrc: u32, seq: u16) -> u64 {
        let i = match self.streams.binary_search_by_key(&ssrc, |(s, _, _)| *s) {
            Ok(i) => i,
            Err(i) => {
                self.streams.insert(i, (ssrc, 0, seq));
                i
            }
        };
        let (_, roc, highest) = &mut self.streams[i];
        let index = estimate_index(*roc, *highest, seq);
        if index > (u64::from(*roc) << 16 | u64::from(*highest)) {
            *roc = (index >> 16) as u32;
            *highest = seq;
        }
        index
    }
}

/// Bounded receiving streams by SSRC.
#[derive(Default)]
struct RecvStreams {
    map: HashMap<u32, RecvState>,
    uses: u64,
}

impl RecvStreams {
    fn get(&self, ssrc: u32) -> Option<&RecvState> {
        self.map.get(&ssrc)
    }

    /// Records an authenticated packet (creating the stream, evicting the least recently used
    /// one when full).
    fn accept(&mut self, ssrc: u32, index: u64, fresh: RecvState) {
        self.uses += 1;
        if !self.map.contains_key(&ssrc) && self.map.len() >= MAX_STREAMS {
            if let Some((&old, _)) = self.map.iter().min_by_key(|(_, s)| s.last_use) {
                self.map.remove(&old);
            }
        }
        let s = self.map.entry(ssrc).or_insert(fresh);
        s.accept(index);
        s.last_use = self.uses;
    }

    fn len(&self) -> usize {
        self.map.len()
    }
}

/// Constant-time tag comparison.
fn tag_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

fn rtp_header_len(p: &[u8]) -> Option<usize> {
    if p.len() < 12 || p[0] >> 6 != 2 {
        return None;
    }
    let mut len = 12 + 4 * usize::from(p[0] & 0x0f);
    if p[0] & 0x10 != 0 {
        let ext = p.get(len + 2..len + 4)?;
        len += 4 + 4 * usize::from(u16::from_be_bytes([ext[0], ext[1]]));
    }
    (len <= p.len()).then_some(len)
}

fn ssrc_at(p: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([p[at], p[at + 1], p[at + 2], p[at + 3]])
}

/// One direction's contexts.
struct Direction {
    rtp: Keys,
    rtcp: Keys,
}

/// An SRTP session: our keys for what we send, the peer's for what we receive.
pub struct SrtpSession {
    pub profile: Profile,
    tx: Direction,
    rx: Direction,
    /// Sending: per SSRC the highest sequence number and rollover counter; the SRTCP index.
    tx_rtp: TxStreams,
    tx_rtcp_index: HashMap<u32, u32>,
    rx_rtp: RecvStreams,
    rx_rtcp: RecvStreams,
}

impl SrtpSession {
    /// From master keys (key ‖ salt): ours to send with, the peer's to receive with.
    pub fn new(profile: Profile, local: &[u8], remote: &[u8]) -> Result<Self, String> {
        let (kl, n) = (profile.key_len(), profile.master_len());
        if local.len() != n || remote.len() != n {
            return Err(format!("master key must be {n} bytes"));
        }
        let dir = |m: &[u8]| Direction { rtp: Keys::new(profile, &m[..kl], &m[kl..], false), rtcp: Keys::new(profile, &m[..kl], &m[kl..], true) };
        Ok(SrtpSession {
            profile,
            tx: dir(local),
            rx: dir(remote),
            tx_rtp: TxStreams::default(),
            tx_rtcp_index: HashMap::new(),
            rx_rtp: RecvStreams::default(),
            rx_rtcp: RecvStreams::default(),
        })
    }

    /// From DTLS-exported keying material (RFC 5764 §4.2: client key, server key, client
    /// salt, server salt). `is_client` is our DTLS role.
    pub fn from_keying_material(profile: Profile, material: &[u8], is_client: bool) -> Result<Self, String> {
        let (k, s) = (profile.key_len(), profile.salt_len());
        if material.len() < 2 * (k + s) {
            return Err("keying material too short".into());
        }
        let (ck, rest) = material.split_at(k);
        let (sk, rest) = rest.split_at(k);
        let (cs, ss) = rest.split_at(s);
        let client = [ck, &cs[..s]].concat();
        let server = [sk, &ss[..s]].concat();
        if is_client {
            Self::new(profile, &client, &server)
        } else {
            Self::new(profile, &server, &client)
        }
    }

    /// Keying material to export from DTLS for `profile`.
    pub fn keying_material_len(profile: Profile) -> usize {
        2 * profile.master_len()
    }

    pub const EXPORTER_LABEL: &'static str = "EXTRACTOR-dtls_srtp";

    /// Receiving streams held (bounded by `MAX_STREAMS`).
    pub fn receive_streams(&self) -> usize {
        self.rx_rtp.len() + self.rx_rtcp.len()
    }

    /// Protects an RTP packet in place (the tag is appended).
    pub fn protect_rtp(&mut self, p: &mut Vec<u8>) -> Result<(), SrtpError> {
        let hlen = rtp_header_len(p).ok_or(SrtpError::Malformed)?;
        let ssrc = ssrc_at(p, 8);
        let seq = u16::from_be_bytes([p[2], p[3]]);
        let index = self.tx_rtp.sent(ssrc, seq);
        let roc = (index >> 16) as u32;
        let keys = &self.tx.rtp;
        match &keys.cipher {
            Cipher::Cm { key, auth } => {
                let iv = keys.cm_iv(ssrc, index);
                Keys::cm_apply(key, &iv, &mut p[hlen..]);
                let tag = Keys::hmac_tag(auth, &[p, &roc.to_be_bytes()]);
                p.extend_from_slice(&tag.as_ref()[..keys.tag_len]);
            }
            Cipher::Gcm(k) => {
                let mut tail = [0u8; 6];
                tail[..4].copy_from_slice(&roc.to_be_bytes());
                tail[4..].copy_from_slice(&seq.to_be_bytes());
                let nonce = keys.gcm_nonce(ssrc, tail);
                let (aad, body) = p.split_at_mut(hlen);
                let tag = k.seal_in_place_separate_tag(nonce, aead::Aad::from(&*aad), body).map_err(|_| SrtpError::Malformed)?;
                p.extend_from_slice(tag.as_ref());
            }
        }
        Ok(())
    }

    /// Verifies and decrypts an SRTP packet in place (the tag is removed). After a failure the
    /// buffer's content is unspecified (the packet is to be dropped).
    pub fn unprotect_rtp(&mut self, p: &mut Vec<u8>) -> Result<(), SrtpError> {
        let tag_len = self.rx.rtp.tag_len;
        if p.len() < 12 + tag_len {
            return Err(SrtpError::Malformed);
        }
        let body_end = p.len() - tag_len;
        let hlen = rtp_header_len(&p[..body_end]).ok_or(SrtpError::Malformed)?;
        let ssrc = ssrc_at(p, 8);
        let seq = u16::from_be_bytes([p[2], p[3]]);
        let fresh = RecvState::new(seq, 0);
        let state = self.rx_rtp.get(ssrc).unwrap_or(&fresh);
        let index = state.estimate(seq);
        if !state.check(index) {
            return Err(SrtpError::Replayed);
        }
        let roc = (index >> 16) as u32;
        let keys = &self.rx.rtp;
        match &keys.cipher {
            Cipher::Cm { key, auth } => {
                let tag = Keys::hmac_tag(auth, &[&p[..body_end], &roc.to_be_bytes()]);
                if !tag_eq(&tag.as_ref()[..tag_len], &p[body_end..]) {
                    return Err(SrtpError::AuthFailed);
                }
                let iv = keys.cm_iv(ssrc, index);
                Keys::cm_apply(key, &iv, &mut p[hlen..body_end]);
                p.truncate(body_end);
            }
            Cipher::Gcm(k) => {
                let mut tail = [0u8; 6];
                tail[..4].copy_from_slice(&roc.to_be_bytes());
                tail[4..].copy_from_slice(&seq.to_be_bytes());
                let nonce = keys.gcm_nonce(ssrc, tail);
                let (aad, body) = p.split_at_mut(hlen);
                let plain_len = k.open_in_place(nonce, aead::Aad::from(&*aad), body).map_err(|_| SrtpError::AuthFailed)?.len();
                p.truncate(hlen + plain_len);
            }
        }
        self.rx_rtp.accept(ssrc, index, fresh);
        Ok(())
    }

    /// Protects an RTCP packet in place (encrypted, E flag and index and tag appended).
    pub fn protect_rtcp(&mut self, p: &mut Vec<u8>) -> Result<(), SrtpError> {
        if p.len() < 8 {
            return Err(SrtpError::Malformed);
        }
        let ssrc = ssrc_at(p, 4);
        let counter = self.tx_rtcp_index.entry(ssrc).or_insert(0);
        let index = *counter & 0x7fff_ffff;
        *counter = counter.wrapping_add(1) & 0x7fff_ffff;
        let e_index = (index | 0x8000_0000).to_be_bytes();
        let keys = &self.tx.rtcp;
        match &keys.cipher {
            Cipher::Cm { key, auth } => {
                let iv = keys.cm_iv(ssrc, u64::from(index));
                Keys::cm_apply(key, &iv, &mut p[8..]);
                p.extend_from_slice(&e_index);
                let tag = Keys::hmac_tag(auth, &[p]);
                p.extend_from_slice(&tag.as_ref()[..keys.tag_len]);
            }
            Cipher::Gcm(k) => {
                let mut tail = [0u8; 6];
                tail[2..].copy_from_slice(&index.to_be_bytes());
                let nonce = keys.gcm_nonce(ssrc, tail);
                let mut aad = [0u8; 12];
                aad[..8].copy_from_slice(&p[..8]);
                aad[8..].copy_from_slice(&e_index);
                let tag = k.seal_in_place_separate_tag(nonce, aead::Aad::from(&aad), &mut p[8..]).map_err(|_| SrtpError::Malformed)?;
                p.extend_from_slice(tag.as_ref());
                p.extend_from_slice(&e_index);
            }
        }
        Ok(())
    }

    /// Verifies and decrypts an SRTCP packet in place (trailer removed). Unencrypted SRTCP (E
    /// flag clear) is still authenticated.
    pub fn unprotect_rtcp(&mut self, p: &mut Vec<u8>) -> Result<(), SrtpError> {
        let tag_len = self.rx.rtcp.tag_len;
        if p.len() < 8 + 4 + tag_len {
            return Err(SrtpError::Malformed);
        }
        let gcm = matches!(self.rx.rtcp.cipher, Cipher::Gcm(_));
        // CM: packet ‖ E+index ‖ tag. GCM: packet ‖ tag ‖ E+index.
        let idx_at = if gcm { p.len() - 4 } else { p.len() - tag_len - 4 };
        let e_index = [p[idx_at], p[idx_at + 1], p[idx_at + 2], p[idx_at + 3]];
        let word = u32::from_be_bytes(e_index);
        let encrypted = word & 0x8000_0000 != 0;
        let index = u64::from(word & 0x7fff_ffff);
        let ssrc = ssrc_at(p, 4);
        let fresh = RecvState::new(index as u16, (index >> 16) as u32);
        let state = self.rx_rtcp.get(ssrc).unwrap_or(&fresh);
        if self.rx_rtcp.get(ssrc).is_some() && !state.check(index) {
            return Err(SrtpError::Replayed);
        }
        let keys = &self.rx.rtcp;
        match &keys.cipher {
            Cipher::Cm { key, auth } => {
                let body_end = p.len() - tag_len;
                let tag = Keys::hmac_tag(auth, &[&p[..body_end]]);
                if !tag_eq(&tag.as_ref()[..tag_len], &p[body_end..]) {
                    return Err(SrtpError::AuthFailed);
                }
                p.truncate(idx_at);
                if encrypted {
                    let iv = keys.cm_iv(ssrc, index);
                    Keys::cm_apply(key, &iv, &mut p[8..]);
                }
            }
            Cipher::Gcm(k) => {
                let mut tail = [0u8; 6];
                tail[2..].copy_from_slice(&(index as u32).to_be_bytes());
                let nonce = keys.gcm_nonce(ssrc, tail);
                let mut aad = [0u8; 12];
                aad[..8].copy_from_slice(&p[..8]);
                aad[8..].copy_from_slice(&e_index);
                p.truncate(idx_at);
                if encrypted {
                    let (_, body) = p.split_at_mut(8);
                    let plain_len = k.open_in_place(nonce, aead::Aad::from(&aad), body).map_err(|_| SrtpError::AuthFailed)?.len();
                    p.truncate(8 + plain_len);
                } else {
                    // Authenticated only: the whole packet is additional data, nothing sealed.
                    let body_end = p.len() - tag_len;
                    let mut all_aad = Vec::with_capacity(body_end + 4);
                    all_aad.extend_from_slice(&p[..body_end]);
                    all_aad.extend_from_slice(&e_index);
                    let mut tag = p[body_end..].to_vec();
                    k.open_in_place(nonce, aead::Aad::from(&all_aad), &mut tag).map_err(|_| SrtpError::AuthFailed)?;
                    p.truncate(body_end);
                }
            }
        }
        self.rx_rtcp.accept(ssrc, index, fresh);
        Ok(())
    }

    /// Convenience for tools: protected copies.
    pub fn encrypt_rtp(&mut self, plain: &[u8]) -> Result<Vec<u8>, SrtpError> {
        let mut v = Vec::with_capacity(plain.len() + 16);
        v.extend_from_slice(plain);
        self.protect_rtp(&mut v).map(|()| v)
    }

    pub fn encrypt_rtcp(&mut self, plain: &[u8]) -> Result<Vec<u8>, SrtpError> {
        let mut v = Vec::with_capacity(plain.len() + 24);
        v.extend_from_slice(plain);
        self.protect_rtcp(&mut v).map(|()| v)
    }

    pub fn decrypt_rtp(&mut self, sealed: &[u8]) -> Result<Vec<u8>, SrtpError> {
        let mut v = sealed.to_vec();
        self.unprotect_rtp(&mut v).map(|()| v)
    }

    pub fn decrypt_rtcp(&mut self, sealed: &[u8]) -> Result<Vec<u8>, SrtpError> {
        let mut v = sealed.to_vec();
        self.unprotect_rtcp(&mut v).map(|()| v)
    }
}

/// mediasoup's PipeTransport SRTP: AEAD_AES_256_GCM with a 44-byte master (32 key + 12 salt),
/// each side sending with its own key and receiving with the peer's.
pub const PIPE_PROFILE: Profile = Profile::AeadAes256Gcm;

#[cfg(test)]
mod tests;
