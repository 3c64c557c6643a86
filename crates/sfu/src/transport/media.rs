//! The media state every transport keeps, whatever its link: which producer an incoming packet
//! belongs to (the RTP listener), which consumer an outgoing SSRC is (for the receiver's
//! feedback), transport-wide-cc both ways, the CNAME of its producers, its MIDs.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::BitrateLimits;
use crate::router::consumer::ConsumerKey;
use crate::router::producer::ProducerKey;
use crate::router::rtp_listener::RtpListener;
use crate::rtp::twcc::TwccRecorder;
use crate::trace::TraceTypes;

/// Why RTP/RTCP that reached a transport's media layer was dropped.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MediaDrops {
    /// Not parseable as RTP or RTCP.
    pub malformed: u64,
    /// RTP of no producer of this transport (unknown SSRC, MID and RID).
    pub unknown_ssrc: u64,
    /// A packet of a known producer that does not belong to any of its streams.
    pub unknown_stream: u64,
}

pub struct TransportMedia {
    /// DTLS connected (WebRTC), remote known (pipes): consumers may send.
    pub connected: bool,
    pub next_mid: u32,
    /// One CNAME for every producer of the transport, as mediasoup does.
    pub cname: Option<String>,
    /// The SSRC we use as RTCP sender on this transport.
    pub rtcp_ssrc: u32,
    /// Next transport-wide sequence number we write.
    pub twcc_out: u16,
    pub twcc_in: TwccRecorder,
    pub twcc_media_ssrc: u32,
    pub listener: RtpListener,
    /// Our outgoing SSRCs (media and RTX) → consumer.
    pub consumer_ssrcs: HashMap<u32, ConsumerKey>,
    /// In creation order (for dumps).
    pub producers: Vec<ProducerKey>,
    pub consumers: Vec<ConsumerKey>,
    pub drops: MediaDrops,
    pub rtp_packets_sent: u64,
    pub bitrates: BitrateLimits,
    pub trace: TraceTypes,
    /// Bandwidth estimation towards the receiver (from its transport-cc feedback).
    pub congestion: super::congestion::Congestion,
    /// The transport-wide number given to the packet about to be sent (its send is recorded).
    pub pending_twcc: Option<u16>,
    /// The probe the packets being sent belong to (0: none).
    pub probing: u16,
    /// Sequence numbers of the probator stream.
    pub probator_seq: u16,
    /// What the consumers would take without a budget (bits/s), from the last allocation.
    pub desired_bitrate: u64,
    /// The estimate last reported in a `bwe` trace.
    pub traced_estimate: Option<u64>,
}

impl TransportMedia {
    pub fn new(rtcp_ssrc: u32) -> Self {
        TransportMedia {
            connected: false,
            next_mid: 0,
            cname: None,
            rtcp_ssrc,
            twcc_out: 0,
            twcc_in: TwccRecorder::default(),
            twcc_media_ssrc: 0,
            listener: RtpListener::default(),
            consumer_ssrcs: HashMap::new(),
            producers: Vec::new(),
            consumers: Vec::new(),
            drops: MediaDrops::default(),
            rtp_packets_sent: 0,
            bitrates: BitrateLimits::default(),
            congestion: super::congestion::Congestion::new(super::congestion::DEFAULT_INITIAL),
            pending_twcc: None,
            probing: 0,
            probator_seq: 0,
            desired_bitrate: 0,
            traced_estimate: None,
            trace: TraceTypes::default(),
        }
    }

    /// The next MID this transport assigns (mediasoup counts from 0, wrapping at 10^8).
    pub fn take_mid(&mut self) -> String {
        let m = self.next_mid.to_string();
        self.next_mid = (self.next_mid + 1) % 100_000_000;
        m
    }

    /// The next transport-wide sequence number.
    pub fn next_twcc_seq(&mut self) -> u16 {
        let s = self.twcc_out;
        self.twcc_out = self.twcc_out.wrapping_add(1);
        s
    }

    pub fn add_dump(&self, d: &mut Value) {
        d["traceEventTypes"] = json!(self.trace.names());
    }

    pub fn add_stats(&self, s: &mut Value) {
        self.bitrates.add_stats(s);
        // WebRTC transports report what the estimation says (the initial value until feedback).
        if s.get("availableOutgoingBitrate").is_some() {
            s["availableOutgoingBitrate"] = json!(self.congestion.estimate());
        }
    }
}
