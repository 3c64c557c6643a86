//! `TransportListenInfo`: where a transport (or WebRtcServer) listens. Validated here only, with
//! mediasoup's messages; the runtime binds what it describes.

use std::net::IpAddr;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::api::ApiError;
use crate::net::Protocol;

#[derive(Clone, Debug, PartialEq)]
pub struct ListenInfo {
    pub protocol: Protocol,
    pub ip: IpAddr,
    /// What to announce instead of `ip` (`announcedAddress`, or the older `announcedIp`).
    pub announced_address: Option<String>,
    /// A fixed port (`None`: a free one, in `port_range` or the worker's range).
    pub port: Option<u16>,
    pub port_range: Option<(u16, u16)>,
    /// With an announced address, also offer the bound IP as a candidate.
    pub expose_internal_ip: bool,
    pub send_buffer_size: Option<usize>,
    pub recv_buffer_size: Option<usize>,
}

impl ListenInfo {
    pub fn from_value(v: &Value) -> Result<Self, ApiError> {
        let Some(o) = v.as_object() else { return Err(ApiError::type_error("invalid listenInfo")) };
        let protocol = match o.get("protocol").and_then(Value::as_str) {
            Some("udp") => Protocol::Udp,
            Some("tcp") => Protocol::Tcp,
            other => {
                let shown = other.map_or_else(|| crate::ortc::js::display(o.get("protocol")), String::from);
                return Err(ApiError::type_error(format!("invalid listenInfo.protocol {shown}")));
            }
        };
        let ip = match o.get("ip") {
            Some(Value::String(s)) if !s.is_empty() => {
                s.parse::<IpAddr>().map_err(|_| ApiError::type_error(format!("invalid IP '{s}'")))?
            }
            _ => return Err(ApiError::type_error("missing listenInfo.ip")),
        };
        let announced_address = match o.get("announcedAddress").or_else(|| o.get("announcedIp")) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(ApiError::type_error("invalid listenInfo.announcedAddress")),
        };
        let port = match o.get("port") {
            None | Some(Value::Null) => None,
            Some(p) => match p.as_u64() {
                Some(0) => None,
                Some(n) if n <= 65535 && p.as_f64().is_some_and(|f| f.fract() == 0.0) => Some(n as u16),
                _ => return Err(ApiError::type_error(format!("invalid listenInfo.port {}", crate::ortc::js::display(Some(p))))),
            },
        };
        let port_range = match o.get("portRange") {
            None | Some(Value::Null) => None,
            Some(r) => {
                let field = |k: &str| r.get(k).and_then(Value::as_u64);
                match (field("min"), field("max")) {
                    (Some(min), Some(max)) if min >= 1 && max <= 65535 && min <= max => Some((min as u16, max as u16)),
                    _ => return Err(ApiError::type_error("invalid listenInfo.portRange")),
                }
            }
        };
        let size = |k: &str| o.get(k).and_then(Value::as_u64).map(|n| n as usize);
        let expose_internal_ip = match o.get("exposeInternalIp") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(ApiError::type_error("invalid listenInfo.exposeInternalIp")),
        };
        Ok(ListenInfo {
            protocol,
            ip,
            announced_address,
            port,
            port_range,
            expose_internal_ip,
            send_buffer_size: size("sendBufferSize"),
            recv_buffer_size: size("recvBufferSize"),
        })
    }
}

impl<'de> Deserialize<'de> for ListenInfo {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        ListenInfo::from_value(&v).map_err(|e| serde::de::Error::custom(e.message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_what_mediasoup_accepts_with_its_messages_otherwise() {
        let l = ListenInfo::from_value(&json!({ "protocol": "udp", "ip": "127.0.0.1", "announcedIp": "1.2.3.4", "port": 0, "portRange": { "min": 40000, "max": 40010 } })).unwrap();
        assert_eq!((l.protocol, l.port, l.port_range), (Protocol::Udp, None, Some((40000, 40010))));
        assert_eq!(l.announced_address.as_deref(), Some("1.2.3.4"));
        let msg = |v: Value| ListenInfo::from_value(&v).unwrap_err().message;
        assert_eq!(msg(json!("x")), "invalid listenInfo");
        assert_eq!(msg(json!({ "protocol": "sctp", "ip": "127.0.0.1" })), "invalid listenInfo.protocol sctp");
        assert_eq!(msg(json!({ "protocol": "udp" })), "missing listenInfo.ip");
        assert_eq!(msg(json!({ "protocol": "udp", "ip": "localhost" })), "invalid IP 'localhost'");
        assert_eq!(msg(json!({ "protocol": "udp", "ip": "::1", "port": 70000 })), "invalid listenInfo.port 70000");
        assert_eq!(msg(json!({ "protocol": "tcp", "ip": "::1", "portRange": { "min": 5, "max": 4 } })), "invalid listenInfo.portRange");
        assert_eq!(msg(json!({ "protocol": "tcp", "ip": "::1", "announcedAddress": 5 })), "invalid listenInfo.announcedAddress");
    }
}
