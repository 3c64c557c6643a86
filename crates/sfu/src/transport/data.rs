//! What every transport keeps for DataChannels: its SCTP association (WebRTC, Plain, Pipe with
//! `enableSctp`), which data producer each incoming stream is (the SCTP listener), its data
//! producers and consumers, and the message size limits.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::net::sctp::{SctpAssociation, SctpOptions, SctpState, MAX_STREAMS, PORT};
use crate::router::data::{DataConsumerKey, DataProducerKey};

pub struct TransportData {
    pub sctp: Option<SctpAssociation>,
    /// WebRtcTransport's association: a closed data producer resets its stream, and a stream
    /// the peer resets closes the data consumer on it.
    pub is_data_channel: bool,
    /// Stream id → data producer receiving on it.
    pub listener: HashMap<u16, DataProducerKey>,
    /// Stream id → data consumer sending on it.
    pub consumer_streams: HashMap<u16, DataConsumerKey>,
    pub producers: Vec<DataProducerKey>,
    pub consumers: Vec<DataConsumerKey>,
    pub max_send_message_size: usize,
    pub max_receive_message_size: usize,
    /// Negotiated (outbound, inbound) streams, once connected.
    pub negotiated: Option<(u16, u16)>,
    /// An in-memory pipe: data messages travel without SCTP.
    pub in_memory: bool,
}

impl TransportData {
    pub fn new(sctp: Option<SctpOptions>, is_data_channel: bool, max_send: usize, max_receive: usize) -> Self {
        TransportData {
            sctp: sctp.map(|o| SctpAssociation::new(o, false)),
            is_data_channel,
            listener: HashMap::new(),
            consumer_streams: HashMap::new(),
            producers: Vec::new(),
            consumers: Vec::new(),
            max_send_message_size: max_send,
            max_receive_message_size: max_receive,
            negotiated: None,
            in_memory: false,
        }
    }

    pub fn none() -> Self {
        Self::new(None, false, 262_144, 262_144)
    }

    /// Whether SCTP-type data producers and consumers can live on it.
    pub fn sctp_capable(&self) -> bool {
        self.sctp.is_some() || self.in_memory
    }

    /// mediasoup's `sctpParameters` (undefined without SCTP).
    pub fn sctp_parameters(&self) -> Option<Value> {
        let o = self.sctp.as_ref()?.options();
        Some(json!({
            "port": PORT,
            "OS": MAX_STREAMS,
            "MIS": MAX_STREAMS,
            "maxMessageSize": o.max_receive_message_size,
            "maxSendMessageSize": o.max_send_message_size,
            "maxReceiveMessageSize": o.max_receive_message_size,
            "sendBufferSize": o.send_buffer_size,
            "perStreamSendQueueLimit": o.per_stream_send_queue_limit,
            "maxReceiverWindowBufferSize": o.max_receiver_window,
            "isDataChannel": self.is_data_channel,
        }))
    }

    pub fn sctp_state(&self) -> Option<SctpState> {
        self.sctp.as_ref().map(|s| s.state())
    }

    /// The SCTP fields a transport's creation data and dump carry.
    pub fn add_json(&self, v: &mut Value) {
        v["maxSendMessageSize"] = json!(self.max_send_message_size);
        v["maxReceiveMessageSize"] = json!(self.max_receive_message_size);
        if let Some(p) = self.sctp_parameters() {
            v["sctpParameters"] = p;
            v["sctpState"] = json!(self.sctp_state().map(|s| s.name()));
            let (os, mis) = self.negotiated.unwrap_or((0, 0));
            v["sctpNegotiatedCapabilities"] = json!({ "negotiatedMaxOutboundStreams": os, "negotiatedMaxInboundStreams": mis });
        }
    }
}
