//! Worker settings, validated as mediasoup's worker validates its command line (`createWorker()`
//! and `updateSettings()`).

use serde_json::Value;

use super::ApiError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    None = 0,
    Error = 1,
    Warn = 2,
    Debug = 3,
}

impl LogLevel {
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        match s {
            "debug" => Ok(LogLevel::Debug),
            "warn" => Ok(LogLevel::Warn),
            "error" => Ok(LogLevel::Error),
            "none" => Ok(LogLevel::None),
            _ => Err(ApiError::type_error(format!("invalid value '{s}' for logLevel"))),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
            LogLevel::None => "none",
        }
    }
}

pub const LOG_TAGS: [&str; 13] = [
    "info", "ice", "dtls", "rtp", "srtp", "rtcp", "rtx", "bwe", "score", "simulcast", "svc",
    "sctp", "message",
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub log_level: LogLevel,
    /// Enabled tags, in `LOG_TAGS` order; unknown tags are ignored as mediasoup does.
    pub log_tags: Vec<&'static str>,
    pub rtc_min_port: u16,
    pub rtc_max_port: u16,
    pub dtls_certificate_file: Option<String>,
    pub dtls_private_key_file: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            log_level: LogLevel::Error,
            log_tags: Vec::new(),
            rtc_min_port: 10000,
            rtc_max_port: 59999,
            dtls_certificate_file: None,
            dtls_private_key_file: None,
        }
    }
}

pub fn parse_log_tags(v: Option<&Value>) -> Vec<&'static str> {
    let given: Vec<&str> = match v {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    LOG_TAGS.iter().copied().filter(|t| given.contains(t)).collect()
}

fn port(v: Option<&Value>, name: &str, default: u16) -> Result<u16, ApiError> {
    match v {
        // mediasoup ignores a non-number (and NaN, which JSON turns into null).
        None | Some(Value::Null) => Ok(default),
        Some(Value::Number(n)) => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.fract() != 0.0 || !(1.0..=65535.0).contains(&f) {
                Err(ApiError::type_error(format!("invalid {name} {n} (must be an integer in 1..65535)")))
            } else {
                Ok(f as u16)
            }
        }
        Some(_) => Ok(default),
    }
}

impl Settings {
    /// From `createWorker()`'s settings object (already JSON).
    pub fn from_json(v: &Value) -> Result<Self, ApiError> {
        let mut s = Settings::default();
        if let Some(level) = v.get("logLevel").and_then(Value::as_str).filter(|l| !l.is_empty()) {
            s.log_level = LogLevel::parse(level)?;
        }
        s.log_tags = parse_log_tags(v.get("logTags"));
        s.rtc_min_port = port(v.get("rtcMinPort"), "rtcMinPort", s.rtc_min_port)?;
        s.rtc_max_port = port(v.get("rtcMaxPort"), "rtcMaxPort", s.rtc_max_port)?;
        if s.rtc_max_port < s.rtc_min_port {
            return Err(ApiError::type_error("rtcMaxPort cannot be less than rtcMinPort"));
        }
        let file = |key: &str| v.get(key).and_then(Value::as_str).filter(|f| !f.is_empty()).map(String::from);
        s.dtls_certificate_file = file("dtlsCertificateFile");
        s.dtls_private_key_file = file("dtlsPrivateKeyFile");
        match (&s.dtls_certificate_file, &s.dtls_private_key_file) {
            (None, None) => {}
            // The runtime reads them (and rejects files it cannot read).
            (Some(_), Some(_)) => {}
            _ => {
                return Err(ApiError::type_error(
                    "both dtlsCertificateFile and dtlsPrivateKeyFile must be given",
                ))
            }
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_values() {
        let s = Settings::from_json(&json!({})).unwrap();
        assert_eq!(s, Settings::default());
        let s = Settings::from_json(&json!({
            "logLevel": "debug", "logTags": ["ice", "bogus", 3, "info"],
            "rtcMinPort": 40000, "rtcMaxPort": 40010
        }))
        .unwrap();
        assert_eq!(s.log_level, LogLevel::Debug);
        assert_eq!(s.log_tags, vec!["info", "ice"]);
        assert_eq!((s.rtc_min_port, s.rtc_max_port), (40000, 40010));
    }

    #[test]
    fn rejects_bad_values() {
        for bad in [
            json!({ "logLevel": "chatty" }),
            json!({ "rtcMinPort": 2000, "rtcMaxPort": 1000 }),
            json!({ "rtcMinPort": 70000 }),
            json!({ "rtcMaxPort": 1.5 }),
            json!({ "dtlsCertificateFile": "/nonexistent/cert.pem" }),
        ] {
            let e = Settings::from_json(&bad).unwrap_err();
            assert_eq!(e.kind, crate::api::ErrorKind::Type, "{bad}");
        }
    }
}
