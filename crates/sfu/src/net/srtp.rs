//! SRTP/SRTCP sessions keyed from the DTLS handshake (RFC 5764), one context per direction.

use bytes::BytesMut;
use rtc_srtp::config::{Config, LABEL_EXTRACTOR_DTLS_SRTP};
use rtc_srtp::context::Context;
use rtc_srtp::option::{srtcp_replay_protection, srtp_replay_protection};
use rtc_srtp::protection_profile::ProtectionProfile;

/// Replay window, in packets, for what we receive.
const REPLAY_WINDOW: usize = 1024;

pub struct SrtpSession {
    tx: Context,
    rx: Context,
    pub profile: ProtectionProfile,
}

pub fn profile_name(p: ProtectionProfile) -> &'static str {
    match p {
        ProtectionProfile::Aes128CmHmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
        ProtectionProfile::Aes128CmHmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        ProtectionProfile::AeadAes128Gcm => "AEAD_AES_128_GCM",
        ProtectionProfile::AeadAes256Gcm => "AEAD_AES_256_GCM",
        _ => "unknown",
    }
}

impl SrtpSession {
    /// From DTLS-exported keying material. `is_client` is our DTLS role: it decides which half
    /// of the material is ours.
    pub fn from_keying_material(
        profile: ProtectionProfile,
        material: &[u8],
        is_client: bool,
    ) -> Result<Self, String> {
        let mut cfg = Config { profile, ..Default::default() };
        cfg.set_session_keys_from_keying_material(material, is_client).map_err(|e| e.to_string())?;
        let k = &cfg.keys;
        Self::new(profile, (&k.local_master_key, &k.local_master_salt), (&k.remote_master_key, &k.remote_master_salt))
    }

    /// Sends with `local` (key, salt), receives with `remote` behind a replay window.
    fn new(profile: ProtectionProfile, local: (&[u8], &[u8]), remote: (&[u8], &[u8])) -> Result<Self, String> {
        let crypto = super::crypto().crypto();
        let tx = Context::new(local.0, local.1, profile, None, None, crypto).map_err(|e| e.to_string())?;
        let rx = Context::new(
            remote.0,
            remote.1,
            profile,
            Some(srtp_replay_protection(REPLAY_WINDOW)),
            Some(srtcp_replay_protection(REPLAY_WINDOW)),
            crypto,
        )
        .map_err(|e| e.to_string())?;
        Ok(SrtpSession { tx, rx, profile })
    }

    /// Length of keying material to export for `profile`.
    pub fn keying_material_len(profile: ProtectionProfile) -> usize {
        Config { profile, ..Default::default() }.keying_material_len()
    }

    pub const EXPORTER_LABEL: &'static str = LABEL_EXTRACTOR_DTLS_SRTP;

    pub fn decrypt_rtp(&mut self, data: &[u8]) -> Result<BytesMut, String> {
        self.rx.decrypt_rtp(data).map_err(|e| e.to_string())
    }
    pub fn encrypt_rtp(&mut self, data: &[u8]) -> Result<BytesMut, String> {
        self.tx.encrypt_rtp(data).map_err(|e| e.to_string())
    }
    pub fn decrypt_rtcp(&mut self, data: &[u8]) -> Result<BytesMut, String> {
        self.rx.decrypt_rtcp(data).map_err(|e| e.to_string())
    }
    pub fn encrypt_rtcp(&mut self, data: &[u8]) -> Result<BytesMut, String> {
        self.tx.encrypt_rtcp(data).map_err(|e| e.to_string())
    }
}

/// mediasoup's PipeTransport SRTP: AEAD_AES_256_GCM with a 44-byte master (32 key + 12 salt),
/// each side sending with its own key and receiving with the peer's.
pub const PIPE_PROFILE: ProtectionProfile = ProtectionProfile::AeadAes256Gcm;

impl SrtpSession {
    /// From exchanged master keys (key ‖ salt), as PipeTransports use them.
    pub fn from_master_keys(profile: ProtectionProfile, local: &[u8], remote: &[u8]) -> Result<Self, String> {
        let (kl, sl) = (profile.key_len(), profile.salt_len());
        if local.len() != kl + sl || remote.len() != kl + sl {
            return Err(format!("master key must be {} bytes", kl + sl));
        }
        Self::new(profile, local.split_at(kl), remote.split_at(kl))
    }

    /// Master key ‖ salt length for `profile`.
    pub fn master_len(profile: ProtectionProfile) -> usize {
        profile.key_len() + profile.salt_len()
    }
}
