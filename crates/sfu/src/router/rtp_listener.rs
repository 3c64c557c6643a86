//! A transport's RTP listener: which of its producers an incoming packet belongs to, by SSRC,
//! else by the MID header extension, else by RID (learning the SSRC for next time). Bounded:
//! a peer cannot grow the tables past a fixed number of SSRCs.

use std::collections::HashMap;

use rtc_rtp::packet::Packet;
use serde_json::{json, Value};

use super::producer::ProducerKey;
use crate::api::ApiError;
use crate::rtp::{self, ExtIds};

/// Most SSRCs one transport's producers may have (signalled and learned).
pub const MAX_SSRCS: usize = 1000;

#[derive(Default)]
pub struct RtpListener {
    ssrcs: HashMap<u32, ProducerKey>,
    mids: HashMap<String, ProducerKey>,
    rids: HashMap<String, ProducerKey>,
    /// Header extension ids the transport's senders use for MID and RID.
    mid_ext: Option<u8>,
    rid_ext: Option<u8>,
    rrid_ext: Option<u8>,
}

impl RtpListener {
    /// Registers a producer's SSRCs, MID and RIDs; fails (registering nothing) on a clash.
    pub fn add(&mut self, key: ProducerKey, ssrcs: &[u32], mid: Option<&str>, rids: &[String], ext: &ExtIds) -> Result<(), ApiError> {
        for ssrc in ssrcs {
            if self.ssrcs.contains_key(ssrc) {
                return Err(ApiError::other(format!("ssrc already exists in RTP listener [ssrc:{ssrc}]")));
            }
        }
        if let Some(mid) = mid {
            if self.mids.contains_key(mid) {
                return Err(ApiError::other(format!("MID already exists in RTP listener [mid:{mid}]")));
            }
        }
        if self.ssrcs.len() + ssrcs.len() > MAX_SSRCS {
            return Err(ApiError::other("too many SSRCs in RTP listener"));
        }
        for ssrc in ssrcs {
            self.ssrcs.insert(*ssrc, key);
        }
        if let Some(mid) = mid {
            self.mids.insert(mid.to_string(), key);
        }
        for rid in rids {
            self.rids.entry(rid.clone()).or_insert(key);
        }
        self.mid_ext = self.mid_ext.or(ext.id(rtp::URI_MID));
        self.rid_ext = self.rid_ext.or(ext.id(rtp::URI_RID));
        self.rrid_ext = self.rrid_ext.or(ext.id(rtp::URI_RRID));
        Ok(())
    }

    pub fn remove(&mut self, key: ProducerKey) {
        self.ssrcs.retain(|_, v| *v != key);
        self.mids.retain(|_, v| *v != key);
        self.rids.retain(|_, v| *v != key);
    }

    /// The producer a packet belongs to.
    pub fn find(&self, p: &Packet) -> Option<ProducerKey> {
        if let Some(k) = self.ssrcs.get(&p.header.ssrc) {
            return Some(*k);
        }
        if !self.mids.is_empty() {
            if let Some(k) = rtp::ext_string(p, self.mid_ext).and_then(|mid| self.mids.get(&mid)) {
                return Some(*k);
            }
        }
        if !self.rids.is_empty() {
            let rid = rtp::ext_string(p, self.rid_ext).or_else(|| rtp::ext_string(p, self.rrid_ext));
            if let Some(k) = rid.and_then(|rid| self.rids.get(&rid)) {
                return Some(*k);
            }
        }
        None
    }

    /// The producer of a known SSRC (sender reports name only that).
    pub fn producer_of_ssrc(&self, ssrc: u32) -> Option<ProducerKey> {
        self.ssrcs.get(&ssrc).copied()
    }

    /// Remembers an SSRC the producer learned (by MID or RID); `false` if the table is full.
    pub fn learn(&mut self, ssrc: u32, key: ProducerKey) -> bool {
        if self.ssrcs.contains_key(&ssrc) {
            return true;
        }
        if self.ssrcs.len() >= MAX_SSRCS {
            return false;
        }
        self.ssrcs.insert(ssrc, key);
        true
    }

    pub fn len(&self) -> usize {
        self.ssrcs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ssrcs.is_empty()
    }

    /// mediasoup's `rtpListener` dump, with producer ids from `name`.
    pub fn dump_json(&self, name: impl Fn(ProducerKey) -> Option<String>) -> Value {
        let table = |m: Vec<(String, ProducerKey)>| -> Value {
            Value::Array(m.into_iter().filter_map(|(k, v)| Some(json!({ "key": k, "value": name(v)? }))).collect())
        };
        json!({
            "ssrcTable": table(self.ssrcs.iter().map(|(k, v)| (k.to_string(), *v)).collect()),
            "midTable": table(self.mids.iter().map(|(k, v)| (k.clone(), *v)).collect()),
            "ridTable": table(self.rids.iter().map(|(k, v)| (k.clone(), *v)).collect()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use rtc_rtp::header::{Extension, Header};

    fn key(i: u32) -> ProducerKey {
        let mut a = crate::arena::Arena::default();
        let mut k = a.insert(());
        for _ in 0..i {
            k = a.insert(());
        }
        k.cast()
    }

    fn packet(ssrc: u32, exts: Vec<(u8, &str)>) -> Packet {
        Packet {
            header: Header {
                version: 2,
                ssrc,
                extension: !exts.is_empty(),
                extension_profile: 0xBEDE,
                extensions: exts.into_iter().map(|(id, v)| Extension { id, payload: Bytes::copy_from_slice(v.as_bytes()) }).collect(),
                ..Default::default()
            },
            payload: Bytes::from_static(&[1]),
        }
    }

    #[test]
    fn finds_by_ssrc_mid_or_rid_and_stays_bounded() {
        let ext = ExtIds { all: vec![(4, rtp::URI_MID.into()), (10, rtp::URI_RID.into())] };
        let mut l = RtpListener::default();
        let (a, b) = (key(0), key(1));
        l.add(a, &[1111], Some("0"), &[], &ext).unwrap();
        l.add(b, &[], Some("1"), &["h".into(), "l".into()], &ext).unwrap();
        assert!(l.add(b, &[1111], None, &[], &ext).is_err(), "an SSRC twice");
        assert!(l.add(b, &[], Some("0"), &[], &ext).is_err(), "a MID twice");
        assert_eq!(l.find(&packet(1111, vec![])), Some(a));
        assert_eq!(l.find(&packet(5, vec![(4, "1")])), Some(b));
        assert_eq!(l.find(&packet(6, vec![(10, "l")])), Some(b));
        assert_eq!(l.find(&packet(7, vec![(4, "9")])), None);
        // Learned SSRCs are kept, up to the bound.
        for ssrc in 0..(2 * MAX_SSRCS as u32) {
            l.learn(10_000 + ssrc, b);
        }
        assert_eq!(l.len(), MAX_SSRCS);
        l.remove(b);
        assert_eq!(l.find(&packet(5, vec![(4, "1")])), None);
        assert_eq!(l.len(), 1);
    }
}
