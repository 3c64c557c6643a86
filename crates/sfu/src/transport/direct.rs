//! mediasoup's DirectTransport: no network. The app hands RTP to its producers
//! (`producer.send()`) and RTCP to it (`transport.sendRtcp()`); what its consumers send comes
//! back to the app as `rtp` events on each consumer, and the RTCP it sends as `rtcp` events on
//! the transport (binary payloads travel base64-encoded in the event data).

use std::sync::Arc;
use std::time::Instant;

use base64::Engine;
use serde_json::Value;

use super::Meters;
use crate::api::TransportId;
use crate::clock::Clock;
use crate::engine::io::Outbox;

/// RTP larger than this from the app is dropped (mediasoup's limit).
pub const MAX_RTP_FROM_APP: usize = 65536;
/// RTCP larger than this from the app is dropped (an MTU and some).
pub const MAX_RTCP_FROM_APP: usize = 1600;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DirectDrops {
    /// Packets from the app over the size limits.
    pub too_big: u64,
    /// RTP not sent by a consumer (nothing to name as its source).
    pub unknown_consumer: u64,
}

pub struct DirectTransport {
    id: TransportId,
    meters: Meters,
    pub max_send_message_size: u64,
    pub max_receive_message_size: u64,
    pub drops: DirectDrops,
}

impl DirectTransport {
    pub fn new(id: TransportId, max_send_message_size: u64, max_receive_message_size: u64) -> Self {
        DirectTransport { id, meters: Meters::default(), max_send_message_size, max_receive_message_size, drops: DirectDrops::default() }
    }

    /// RTP (`rtcp` false) or RTCP from the app: counted, and whether it may go on.
    pub fn from_app(&mut self, now: Instant, len: usize, rtcp: bool) -> bool {
        self.meters.recv.update(len, now);
        if len > if rtcp { MAX_RTCP_FROM_APP } else { MAX_RTP_FROM_APP } {
            self.drops.too_big += 1;
            return false;
        }
        if !rtcp {
            self.meters.rtp_recv.update(len, now);
        }
        true
    }

    /// A data message went to the app.
    pub fn sent_data(&mut self, now: Instant, len: usize) {
        self.meters.send.update(len, now);
    }

    /// What the transport sends: RTP of `consumer` as an `rtp` event on it, RTCP as an `rtcp`
    /// event on the transport.
    pub fn send(&mut self, now: Instant, consumer: Option<&Arc<str>>, data: &[u8], rtcp: bool, out: &mut Outbox) -> bool {
        let target = if rtcp {
            self.id.arc().clone()
        } else {
            match consumer {
                Some(id) => id.clone(),
                None => {
                    self.drops.unknown_consumer += 1;
                    return false;
                }
            }
        };
        self.meters.send.update(data.len(), now);
        if !rtcp {
            self.meters.rtp_send.update(data.len(), now);
        }
        let payload = base64::engine::general_purpose::STANDARD.encode(data);
        out.event(&target, if rtcp { "rtcp" } else { "rtp" }, Value::String(payload));
        true
    }

    pub fn dump_json(&self) -> Value {
        super::base_dump_json(self.id.as_str(), self.max_send_message_size, self.max_receive_message_size)
    }

    pub fn stats_json(&mut self, now: Instant, clock: &Clock) -> Value {
        self.meters.stats_json("direct-transport", self.id.as_str(), now, clock)
    }
}
