//! Transports: what connects a router to the network. `webrtc` is mediasoup's WebRtcTransport.

pub mod pipe;
pub mod rate;
pub mod webrtc;

use std::net::{IpAddr, SocketAddr};

use std::time::Instant;

use serde_json::{json, Value};

use rate::RateCalculator;

use crate::channel::RequestError;
use crate::ice::{Protocol, Tuple};

/// A `TransportListenInfo`, as the facade normalized it.
#[derive(Clone, Debug, PartialEq)]
pub struct ListenInfo {
    pub protocol: Protocol,
    pub ip: IpAddr,
    pub announced_address: Option<String>,
    pub port: Option<u16>,
    pub port_range: Option<(u16, u16)>,
    pub send_buffer_size: Option<usize>,
    pub recv_buffer_size: Option<usize>,
}

impl ListenInfo {
    pub fn from_json(v: &Value) -> Result<Self, RequestError> {
        let protocol = match v.get("protocol").and_then(Value::as_str) {
            Some("udp") => Protocol::Udp,
            Some("tcp") => Protocol::Tcp,
            _ => return Err(RequestError::type_error("invalid listenInfo.protocol")),
        };
        let ip: IpAddr = v
            .get("ip")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| RequestError::type_error("invalid listenInfo.ip"))?;
        let port = match v.get("port").and_then(Value::as_u64) {
            None | Some(0) => None,
            Some(p) if p <= 65535 => Some(p as u16),
            Some(_) => return Err(RequestError::type_error("invalid listenInfo.port")),
        };
        let port_range = match v.get("portRange") {
            Some(r) if r.is_object() => {
                let min = r.get("min").and_then(Value::as_u64).unwrap_or(0);
                let max = r.get("max").and_then(Value::as_u64).unwrap_or(0);
                if min == 0 || max > 65535 || min > max {
                    return Err(RequestError::type_error("invalid listenInfo.portRange"));
                }
                Some((min as u16, max as u16))
            }
            _ => None,
        };
        Ok(ListenInfo {
            protocol,
            ip,
            announced_address: v.get("announcedAddress").and_then(Value::as_str).map(String::from),
            port,
            port_range,
            send_buffer_size: v.get("sendBufferSize").and_then(Value::as_u64).map(|n| n as usize),
            recv_buffer_size: v.get("recvBufferSize").and_then(Value::as_u64).map(|n| n as usize),
        })
    }
}

/// A bound local socket of a transport: where candidates point.
#[derive(Clone, Debug, PartialEq)]
pub struct LocalSocket {
    pub protocol: Protocol,
    pub local: SocketAddr,
    pub announced_address: Option<String>,
}

/// mediasoup's `TransportTuple` JSON.
pub fn tuple_json(t: &Tuple, announced: Option<&str>) -> Value {
    let local_ip = t.local.ip().to_string();
    json!({
        "localIp": announced.unwrap_or(&local_ip),
        "localAddress": announced.unwrap_or(&local_ip),
        "localPort": t.local.port(),
        "remoteIp": t.remote.ip().to_string(),
        "remotePort": t.remote.port(),
        "protocol": t.protocol.name(),
    })
}

/// Byte counters and bitrates every transport reports.
#[derive(Default)]
pub struct Meters {
    pub recv: RateCalculator,
    pub send: RateCalculator,
    pub rtp_recv: RateCalculator,
    pub rtp_send: RateCalculator,
}

impl Meters {
    /// The fields of mediasoup's `BaseTransportStats`.
    pub fn stats_json(&mut self, ty: &str, id: &str, now: Instant) -> Value {
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        json!({
            "type": ty,
            "transportId": id,
            "timestamp": timestamp,
            "bytesReceived": self.recv.total_bytes,
            "recvBitrate": self.recv.rate(now),
            "bytesSent": self.send.total_bytes,
            "sendBitrate": self.send.rate(now),
            "rtpBytesReceived": self.rtp_recv.total_bytes,
            "rtpRecvBitrate": self.rtp_recv.rate(now),
            "rtpBytesSent": self.rtp_send.total_bytes,
            "rtpSendBitrate": self.rtp_send.rate(now),
            "rtxBytesReceived": 0,
            "rtxRecvBitrate": 0,
            "rtxBytesSent": 0,
            "rtxSendBitrate": 0,
            "probationBytesSent": 0,
            "probationSendBitrate": 0,
        })
    }
}
