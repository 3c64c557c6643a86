//! The data side of a router (mediasoup's DataProducer and DataConsumer): messages a data
//! producer receives (over SCTP, or from the app on a DirectTransport) go to each of its active
//! data consumers whose subchannels let them through, on the consumer's own SCTP stream.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use base64::Engine;
use serde_json::{json, Value};

use crate::api::{ApiError, ApiResult, DataConsumerId, DataProducerId};
use crate::arena::{Arena, Key};
use crate::clock::Clock;
use crate::engine::io::Outbox;
use crate::net::sctp::{Reliability, SendError};
use crate::transport::{Transport, TransportKey};

pub type DataProducerKey = Key<DataProducer>;
pub type DataConsumerKey = Key<DataConsumer>;

/// Highest SCTP stream id mediasoup accepts.
pub const MAX_STREAM_ID: u64 = 65534;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataType {
    Sctp,
    Direct,
}

impl DataType {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sctp" => Some(DataType::Sctp),
            "direct" => Some(DataType::Direct),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            DataType::Sctp => "sctp",
            DataType::Direct => "direct",
        }
    }
}

/// `sctpStreamParameters`, checked as mediasoup's worker checks them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamParameters {
    pub stream_id: u16,
    pub ordered: bool,
    pub max_packet_life_time: Option<u32>,
    pub max_retransmits: Option<u32>,
}

impl StreamParameters {
    pub fn from_json(v: &Value) -> ApiResult<Self> {
        let mut v = v.clone();
        crate::ortc::validate_sctp_stream_parameters(&mut v)?;
        let stream_id = v["streamId"].as_f64().unwrap_or(-1.0);
        if !(0.0..=MAX_STREAM_ID as f64).contains(&stream_id) {
            return Err(ApiError::type_error(format!("streamId must not be greater than {MAX_STREAM_ID}")));
        }
        // 0 is "not given" (mediasoup writes them only when non-zero).
        let limit = |k: &str| v.get(k).and_then(Value::as_f64).filter(|n| *n > 0.0).map(|n| n.min(u32::MAX as f64) as u32);
        Ok(StreamParameters {
            stream_id: stream_id as u16,
            ordered: v["ordered"].as_bool().unwrap_or(true),
            max_packet_life_time: limit("maxPacketLifeTime"),
            max_retransmits: limit("maxRetransmits"),
        })
    }

    pub fn to_json(&self) -> Value {
        let mut v = json!({ "streamId": self.stream_id, "ordered": self.ordered });
        if let Some(n) = self.max_packet_life_time {
            v["maxPacketLifeTime"] = json!(n);
        }
        if let Some(n) = self.max_retransmits {
            v["maxRetransmits"] = json!(n);
        }
        v
    }

    pub fn reliability(&self) -> Reliability {
        Reliability { ordered: self.ordered, max_packet_life_time: self.max_packet_life_time, max_retransmits: self.max_retransmits }
    }
}

pub struct DataProducer {
    pub id: DataProducerId,
    pub transport: TransportKey,
    pub ty: DataType,
    pub sctp: Option<StreamParameters>,
    pub label: String,
    pub protocol: String,
    pub paused: bool,
    pub consumers: Vec<DataConsumerKey>,
    pub messages_received: u64,
    pub bytes_received: u64,
}

impl DataProducer {
    pub fn dump_json(&self) -> Value {
        let mut v = json!({ "id": self.id.as_str(), "paused": self.paused, "type": self.ty.name(), "label": self.label, "protocol": self.protocol });
        if let Some(s) = &self.sctp {
            v["sctpStreamParameters"] = s.to_json();
        }
        v
    }
}

pub struct DataConsumer {
    pub id: DataConsumerId,
    pub producer: DataProducerKey,
    pub transport: TransportKey,
    pub ty: DataType,
    pub sctp: Option<StreamParameters>,
    pub label: String,
    pub protocol: String,
    pub paused: bool,
    pub producer_paused: bool,
    pub subchannels: BTreeSet<u16>,
    /// Its transport is a pipe: subchannels travel with each message.
    pub pipe: bool,
    pub max_message_size: usize,
    pub low_threshold: usize,
    /// Its transport's association closed or failed: it never sends again.
    pub association_closed: bool,
    pub messages_sent: u64,
    pub bytes_sent: u64,
}

impl DataConsumer {
    pub fn active(&self) -> bool {
        !self.paused && !self.producer_paused && (self.ty == DataType::Direct || !self.association_closed)
    }

    pub fn target(&self) -> &Arc<str> {
        self.id.arc()
    }

    /// Whether a message with these subchannels reaches it (mediasoup's rules).
    pub fn accepts(&self, subchannels: &[u16], required: Option<u16>, ignored: Option<u16>) -> bool {
        if self.pipe && self.subchannels.is_empty() {
            return true;
        }
        if required.is_some_and(|r| !self.subchannels.contains(&r)) {
            return false;
        }
        if !self.pipe && ignored.is_some_and(|i| self.subchannels.contains(&i)) {
            return false;
        }
        if !subchannels.is_empty() && !subchannels.iter().any(|s| self.subchannels.contains(s)) {
            return false;
        }
        true
    }

    pub fn dump_json(&self, producer_id: &str, buffered: usize) -> Value {
        let mut v = json!({
            "id": self.id.as_str(),
            "dataProducerId": producer_id,
            "type": self.ty.name(),
            "label": self.label,
            "protocol": self.protocol,
            "bufferedAmount": buffered,
            "bufferedAmountLowThreshold": if self.ty == DataType::Sctp { self.low_threshold } else { 0 },
            "paused": self.paused,
            "dataProducerPaused": self.producer_paused,
            "subchannels": self.subchannels.iter().collect::<Vec<_>>(),
        });
        if let Some(s) = &self.sctp {
            v["sctpStreamParameters"] = s.to_json();
        }
        v
    }
}

/// A message, with the subchannel rules it carries.
pub struct Message<'a> {
    pub ppid: u32,
    pub data: &'a [u8],
    pub subchannels: Vec<u16>,
    pub required: Option<u16>,
    pub ignored: Option<u16>,
}

// ----- subchannels on the wire (pipes): mediasoup's header, in front of the payload -----------

const SUBCHANNELS_TOKEN: u64 = 0xA5F0_9CB3_D6E1_F28C;

/// Prefixes `data` with the subchannels header (nothing when there is nothing to say).
pub fn encode_subchannels(m: &Message<'_>) -> Vec<u8> {
    if m.subchannels.is_empty() && m.required.is_none() && m.ignored.is_none() {
        return m.data.to_vec();
    }
    let mut out = Vec::with_capacity(m.data.len() + 14 + 2 * m.subchannels.len());
    let token = SUBCHANNELS_TOKEN | (u64::from(m.required.is_some()) << 1) | u64::from(m.ignored.is_some());
    out.extend_from_slice(&token.to_be_bytes());
    out.extend_from_slice(&(m.subchannels.len() as u16).to_be_bytes());
    for s in &m.subchannels {
        out.extend_from_slice(&s.to_be_bytes());
    }
    for x in [m.required, m.ignored].into_iter().flatten() {
        out.extend_from_slice(&x.to_be_bytes());
    }
    out.extend_from_slice(m.data);
    out
}

/// Strips a subchannels header if the payload has one: (subchannels, required, ignored, rest).
#[allow(clippy::type_complexity)]
pub fn decode_subchannels(data: &[u8]) -> (Vec<u16>, Option<u16>, Option<u16>, &[u8]) {
    let plain = (Vec::new(), None, None, data);
    if data.len() < 10 {
        return plain;
    }
    let token = u64::from_be_bytes(data[..8].try_into().expect("8 bytes"));
    if token & !3 != SUBCHANNELS_TOKEN {
        return plain;
    }
    let (has_required, has_ignored) = (token & 2 != 0, token & 1 != 0);
    let count = usize::from(u16::from_be_bytes([data[8], data[9]]));
    let need = 10 + 2 * count + 2 * usize::from(has_required) + 2 * usize::from(has_ignored);
    if data.len() < need {
        return plain;
    }
    let u16_at = |i: usize| u16::from_be_bytes([data[i], data[i + 1]]);
    let subchannels = (0..count).map(|i| u16_at(10 + 2 * i)).collect();
    let mut at = 10 + 2 * count;
    let mut next = |present: bool| {
        present.then(|| {
            let v = u16_at(at);
            at += 2;
            v
        })
    };
    let required = next(has_required);
    let ignored = next(has_ignored);
    (subchannels, required, ignored, &data[need..])
}

/// The data producers and consumers of a router.
#[derive(Default)]
pub struct DataRouter {
    pub producers: Arena<DataProducer>,
    pub consumers: Arena<DataConsumer>,
    producer_ids: HashMap<DataProducerId, DataProducerKey>,
    consumer_ids: HashMap<DataConsumerId, DataConsumerKey>,
    /// Ids removed since the engine last asked (it forgets their handlers).
    pub removed: Vec<String>,
}

impl DataRouter {
    pub fn producer_key(&self, id: &DataProducerId) -> Option<DataProducerKey> {
        self.producer_ids.get(id).copied()
    }

    pub fn producer_ids(&self) -> Vec<String> {
        self.producers.iter().map(|(_, p)| p.id.to_string()).collect()
    }

    pub fn consumer_ids(&self) -> Vec<String> {
        self.consumers.iter().map(|(_, c)| c.id.to_string()).collect()
    }

    pub fn insert_producer(&mut self, p: DataProducer) -> ApiResult<DataProducerKey> {
        if self.producer_ids.contains_key(&p.id) {
            return Err(ApiError::other(format!("DataProducer already present in mapDataProducers [dataProducerId:{}]", p.id)));
        }
        let id = p.id.clone();
        let k = self.producers.insert(p);
        self.producer_ids.insert(id, k);
        Ok(k)
    }

    pub fn insert_consumer(&mut self, c: DataConsumer) -> DataConsumerKey {
        let id = c.id.clone();
        let pk = c.producer;
        let k = self.consumers.insert(c);
        self.consumer_ids.insert(id, k);
        if let Some(p) = self.producers.get_mut(pk) {
            p.consumers.push(k);
        }
        k
    }

    /// Removes a data consumer (its transport resets its stream). `None` if unknown.
    pub fn remove_consumer(&mut self, now: Instant, k: DataConsumerKey, transports: &mut Arena<Transport>, out: &mut Outbox) -> Option<DataConsumer> {
        let c = self.consumers.remove(k)?;
        self.consumer_ids.remove(&c.id);
        self.removed.push(c.id.to_string());
        if let Some(p) = self.producers.get_mut(c.producer) {
            p.consumers.retain(|x| *x != k);
        }
        if let Some(t) = transports.get_mut(c.transport) {
            t.data.consumers.retain(|x| *x != k);
            if let Some(s) = &c.sctp {
                t.data.consumer_streams.remove(&s.stream_id);
                t.reset_sctp_stream(now, s.stream_id, out);
            }
        }
        Some(c)
    }

    /// Closes a data producer: its consumers hear `dataproducerclose` and go.
    pub fn close_producer(&mut self, now: Instant, k: DataProducerKey, transports: &mut Arena<Transport>, out: &mut Outbox) {
        let Some(p) = self.producers.remove(k) else { return };
        self.producer_ids.remove(&p.id);
        self.removed.push(p.id.to_string());
        if let Some(t) = transports.get_mut(p.transport) {
            t.data.producers.retain(|x| *x != k);
            if let Some(s) = &p.sctp {
                t.data.listener.remove(&s.stream_id);
                // A DataChannel peer learns it closed (RFC 8831 §6.7).
                if t.data.is_data_channel {
                    t.reset_sctp_stream(now, s.stream_id, out);
                }
            }
        }
        for ck in p.consumers {
            if let Some(c) = self.remove_consumer(now, ck, transports, out) {
                out.event(c.target(), "dataproducerclose", Value::Null);
            }
        }
    }

    /// A message for data producer `k` (over SCTP, a pipe, or from the app): counted, and
    /// unless it is paused, sent to each consumer that is active and lets it through.
    pub fn on_message(&mut self, now: Instant, k: DataProducerKey, m: Message<'_>, transports: &mut Arena<Transport>, out: &mut Outbox) {
        let Some(p) = self.producers.get_mut(k) else { return };
        p.messages_received += 1;
        p.bytes_received += m.data.len() as u64;
        if p.paused {
            return;
        }
        for &ck in &p.consumers {
            let Some(c) = self.consumers.get_mut(ck) else { continue };
            if !c.active() || !c.accepts(&m.subchannels, m.required, m.ignored) {
                continue;
            }
            let Some(t) = transports.get_mut(c.transport) else { continue };
            // Only the subchannels this consumer follows go on through a pipe.
            let payload = if c.pipe {
                let kept: Vec<u16> = if c.subchannels.is_empty() { m.subchannels.clone() } else { m.subchannels.iter().copied().filter(|s| c.subchannels.contains(s)).collect() };
                encode_subchannels(&Message { ppid: m.ppid, data: m.data, subchannels: kept, required: m.required, ignored: m.ignored })
            } else {
                m.data.to_vec()
            };
            if payload.len() > c.max_message_size {
                continue;
            }
            c.messages_sent += 1;
            c.bytes_sent += payload.len() as u64;
            let stream = c.sctp.map(|s| s.stream_id).unwrap_or(0);
            let reliability = c.sctp.map(|s| s.reliability()).unwrap_or_else(Reliability::reliable);
            if let Err(SendError::Full) = t.send_data(now, c.id.arc(), stream, m.ppid, &payload, reliability, out) {
                out.event(c.id.arc(), "sctpsendbufferfull", Value::Null);
            }
        }
    }

    /// `dataConsumer.send()`: the stream's buffered amount after it, or mediasoup's errors.
    pub fn consumer_send(&mut self, now: Instant, k: DataConsumerKey, ppid: u32, data: &[u8], transports: &mut Arena<Transport>, out: &mut Outbox) -> ApiResult<usize> {
        let c = self.consumers.get_mut(k).ok_or_else(|| ApiError::not_found("DataConsumer not found"))?;
        let Some(sctp) = c.sctp.filter(|_| c.ty == DataType::Sctp) else { return Err(ApiError::type_error("invalid DataConsumer type")) };
        if data.len() > c.max_message_size {
            return Err(ApiError::type_error(format!("given message exceeds maxMessageSize value [maxMessageSize:{}, len:{}]", c.max_message_size, data.len())));
        }
        if !c.active() {
            return Err(ApiError::other("message send failed"));
        }
        let t = transports.get_mut(c.transport).ok_or_else(|| ApiError::other("message send failed"))?;
        c.messages_sent += 1;
        c.bytes_sent += data.len() as u64;
        match t.send_data(now, c.id.arc(), sctp.stream_id, ppid, data, sctp.reliability(), out) {
            Ok(buffered) => Ok(buffered),
            Err(SendError::Full) => {
                out.event(c.id.arc(), "sctpsendbufferfull", Value::Null);
                Err(ApiError::other("sctpsendbufferfull"))
            }
            Err(_) => Err(ApiError::other("message send failed")),
        }
    }

    pub fn set_producer_paused(&mut self, k: DataProducerKey, paused: bool, out: &mut Outbox) {
        let Some(p) = self.producers.get_mut(k) else { return };
        if p.paused == paused {
            return;
        }
        p.paused = paused;
        for &ck in &p.consumers {
            if let Some(c) = self.consumers.get_mut(ck) {
                c.producer_paused = paused;
                out.event(c.target(), if paused { "dataproducerpause" } else { "dataproducerresume" }, Value::Null);
            }
        }
    }

    pub fn producer_stats(&self, k: DataProducerKey, clock: &Clock, now: Instant) -> Option<Value> {
        let p = self.producers.get(k)?;
        Some(json!([{
            "type": "data-producer",
            "timestamp": clock.wall_ms(now),
            "label": p.label,
            "protocol": p.protocol,
            "messagesReceived": p.messages_received,
            "bytesReceived": p.bytes_received,
        }]))
    }

    pub fn consumer_stats(&self, k: DataConsumerKey, buffered: usize, clock: &Clock, now: Instant) -> Option<Value> {
        let c = self.consumers.get(k)?;
        Some(json!([{
            "type": "data-consumer",
            "timestamp": clock.wall_ms(now),
            "label": c.label,
            "protocol": c.protocol,
            "messagesSent": c.messages_sent,
            "bytesSent": c.bytes_sent,
            "bufferedAmount": buffered,
        }]))
    }

    /// For `router.dump()`.
    pub fn dump_maps(&self) -> (Vec<Value>, Vec<Value>) {
        let pc = self
            .producers
            .iter()
            .map(|(_, p)| json!({ "key": p.id.as_str(), "values": p.consumers.iter().filter_map(|k| self.consumers.get(*k)).map(|c| c.id.as_str()).collect::<Vec<_>>() }))
            .collect();
        let cp = self
            .consumers
            .iter()
            .filter_map(|(_, c)| Some(json!({ "key": c.id.as_str(), "value": self.producers.get(c.producer)?.id.as_str() })))
            .collect();
        (pc, cp)
    }

    pub fn consumer_key(&self, id: &DataConsumerId) -> Option<DataConsumerKey> {
        self.consumer_ids.get(id).copied()
    }

    /// Encodes a message for a `message` event of a DirectTransport consumer.
    pub fn message_event(ppid: u32, data: &[u8]) -> Value {
        json!({ "ppid": ppid, "data": base64::engine::general_purpose::STANDARD.encode(data) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subchannels_header_round_trips_as_mediasoup_encodes_it() {
        let m = Message { ppid: 51, data: b"hi", subchannels: vec![1, 300], required: Some(7), ignored: None };
        let enc = encode_subchannels(&m);
        assert_eq!(&enc[..8], &[0xA5, 0xF0, 0x9C, 0xB3, 0xD6, 0xE1, 0xF2, 0x8E]);
        assert_eq!(&enc[8..], &[0, 2, 0, 1, 1, 44, 0, 7, b'h', b'i']);
        let (subs, req, ign, rest) = decode_subchannels(&enc);
        assert_eq!((subs, req, ign, rest), (vec![1, 300], Some(7), None, &b"hi"[..]));
        // Nothing to say: nothing added; something that is not a header passes as it is.
        assert_eq!(encode_subchannels(&Message { ppid: 51, data: b"x", subchannels: vec![], required: None, ignored: None }), b"x");
        let (subs, _, _, rest) = decode_subchannels(b"0123456789abc");
        assert!(subs.is_empty());
        assert_eq!(rest, b"0123456789abc");
        // A truncated header is payload.
        assert_eq!(decode_subchannels(&enc[..12]).3, &enc[..12]);
    }

    #[test]
    fn stream_parameters_are_checked_as_mediasoup_does() {
        let p = StreamParameters::from_json(&json!({ "streamId": 3, "maxRetransmits": 2 })).unwrap();
        assert_eq!((p.ordered, p.max_retransmits, p.max_packet_life_time), (false, Some(2), None));
        assert_eq!(p.to_json(), json!({ "streamId": 3, "ordered": false, "maxRetransmits": 2 }));
        assert_eq!(StreamParameters::from_json(&json!({ "streamId": 65535 })).unwrap_err().message, "streamId must not be greater than 65534");
        assert_eq!(StreamParameters::from_json(&json!({})).unwrap_err().message, "missing params.streamId");
        assert!(StreamParameters::from_json(&json!({ "streamId": 1, "ordered": true, "maxRetransmits": 1 })).is_err());
    }
}
