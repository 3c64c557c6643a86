//! Transports: what connects a router to the network. `webrtc` is mediasoup's WebRtcTransport.

pub mod rate;
pub mod webrtc;

use std::net::{IpAddr, SocketAddr};

use serde_json::{json, Value};

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
