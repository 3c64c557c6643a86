//! RTP header extensions: the URIs ferrosoup reads or writes, and each side's id ↔ URI map.

use bytes::Bytes;
use rtc_rtp::packet::Packet;

pub const URI_MID: &str = "urn:ietf:params:rtp-hdrext:sdes:mid";
pub const URI_RID: &str = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id";
pub const URI_RRID: &str = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id";
pub const URI_ABS_SEND_TIME: &str = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time";
pub const URI_TRANSPORT_CC: &str =
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
pub const URI_VIDEO_ORIENTATION: &str = "urn:3gpp:video-orientation";
pub const URI_AUDIO_LEVEL: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
pub const URI_DEPENDENCY_DESCRIPTOR: &str = "https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension";

/// RFC 6464 audio level of a packet: the level byte (0..=127, meaning −L dBov; the voice
/// activity bit dropped), when the extension is there with one byte of data.
pub fn audio_level(p: &Packet, id: Option<u8>) -> Option<u8> {
    match ext_value(p, id)?.as_ref() {
        [b] => Some(b & 0x7f),
        _ => None,
    }
}

/// Header extension ids of one side (producer or consumer), by what they mean.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtIds {
    /// (id, uri) as negotiated.
    pub all: Vec<(u8, String)>,
}

impl ExtIds {
    pub fn from_parameters(params: &serde_json::Value) -> Self {
        let all = params
            .get("headerExtensions")
            .and_then(|v| v.as_array())
            .map(|list| {
                list.iter()
                    .filter_map(|e| {
                        let id = e.get("id")?.as_u64()?;
                        let uri = e.get("uri")?.as_str()?;
                        (1..=255).contains(&id).then(|| (id as u8, uri.to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        ExtIds { all }
    }

    pub fn id(&self, uri: &str) -> Option<u8> {
        self.all.iter().find(|(_, u)| u == uri).map(|(id, _)| *id)
    }

    pub fn uri(&self, id: u8) -> Option<&str> {
        self.all.iter().find(|(i, _)| *i == id).map(|(_, u)| u.as_str())
    }
}

pub fn ext_value<'a>(p: &'a Packet, id: Option<u8>) -> Option<&'a Bytes> {
    let id = id?;
    p.header.extensions.iter().find(|e| e.id == id).map(|e| &e.payload)
}

pub fn ext_string(p: &Packet, id: Option<u8>) -> Option<String> {
    ext_value(p, id).and_then(|b| std::str::from_utf8(b).ok()).map(|s| s.trim_end_matches('\0').to_string())
}

/// abs-send-time for a wall-clock time (since the Unix epoch): 6.18 fixed point seconds, 24 bits.
pub fn abs_send_time(since_epoch: std::time::Duration) -> u32 {
    ((since_epoch.as_nanos() << 18) / 1_000_000_000) as u32 & 0x00ff_ffff
}

