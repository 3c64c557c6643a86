//! The Node binding: converts values, owns the threadsafe functions. Nothing else in the crate
//! knows about Node.
//!
//! Workers talk to JS through one threadsafe function each, which carries JSON strings (see
//! `channel::Outgoing`). It is held by the worker thread, so it keeps Node's event loop alive
//! exactly as long as the worker runs, like mediasoup's worker subprocess does.

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use serde_json::{json, Value};

use crate::channel::{Outgoing, Request, Sink};
use crate::worker::{self, Settings, WorkerHandle};

type Callback = ThreadsafeFunction<String, (), String, Status, false>;

fn parse_json(s: &str, what: &str) -> Result<Value> {
    serde_json::from_str(s).map_err(|e| Error::new(Status::InvalidArg, format!("invalid {what} JSON: {e}")))
}

/// Synchronous results go back as JSON `{ "value": ... }` or `{ "error": class, "reason": ... }`
/// so the facade can throw mediasoup's error classes.
fn sync_result(r: std::result::Result<Value, crate::ortc::OrtcError>) -> String {
    match r {
        Ok(v) => json!({ "value": v }).to_string(),
        Err(e) => json!({ "error": e.class(), "reason": e.message() }).to_string(),
    }
}

#[napi]
pub struct NativeWorker {
    handle: Option<WorkerHandle>,
}

#[napi]
impl NativeWorker {
    /// Validates the settings and starts the worker thread. Messages arrive in `callback` as
    /// JSON strings; the first is `running` (or a thrown TypeError for bad settings).
    #[napi(constructor, catch_unwind)]
    pub fn new(settings_json: String, callback: Function<'_, String, ()>) -> Result<Self> {
        let settings_value = parse_json(&settings_json, "settings")?;
        let settings = Settings::from_json(&settings_value)
            .map_err(|e| Error::new(Status::InvalidArg, format!("TypeError:{}", e.reason)))?;
        let tsfn: Callback =
            callback.build_threadsafe_function::<String>().callee_handled::<false>().build()?;
        let tsfn = Arc::new(tsfn);
        let sink: Sink = Arc::new(move |msg: Outgoing| {
            // NonBlocking on an unbounded queue: never waits. Fails only while Node shuts down.
            tsfn.call(msg.to_json(), ThreadsafeFunctionCallMode::NonBlocking);
        });
        let test_hooks = std::env::var("FERROSOUP_TEST_HOOKS").map(|v| v == "1").unwrap_or(false);
        let handle = worker::spawn(settings, sink, test_hooks).map_err(|e| {
            if e.class == crate::channel::ErrorClass::TypeError {
                Error::new(Status::InvalidArg, format!("TypeError:{}", e.reason))
            } else {
                Error::from_reason(e.reason)
            }
        })?;
        Ok(NativeWorker { handle: Some(handle) })
    }

    /// Queues a request. Returns false if the worker is closed or gone.
    #[napi(catch_unwind)]
    pub fn request(&self, id: u32, method: String, handler_id: String, data: String) -> Result<bool> {
        let Some(handle) = &self.handle else { return Ok(false) };
        let data = if data.is_empty() { Value::Null } else { parse_json(&data, "request")? };
        Ok(handle.request(Request { id, method, handler_id, data }))
    }

    /// Asks the worker thread to finish; it reports `exited` when done.
    #[napi(catch_unwind)]
    pub fn close(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.close();
        }
    }

    #[napi(getter)]
    pub fn number(&self) -> u32 {
        self.handle.as_ref().map(|h| h.number).unwrap_or(0)
    }
}

/// `ortc.generateRouterRtpCapabilities()` on the calling thread (for `updateMediaCodecs()`).
#[napi(catch_unwind)]
pub fn generate_router_rtp_capabilities(media_codecs_json: Option<String>) -> Result<String> {
    let codecs = match media_codecs_json.as_deref() {
        None | Some("") => None,
        Some(s) => Some(parse_json(s, "mediaCodecs")?),
    };
    Ok(sync_result(crate::ortc::generate_router_rtp_capabilities(codecs.as_ref())))
}

/// `ortc.canConsume()` over the consumable parameters the facade holds.
#[napi(catch_unwind)]
pub fn can_consume(consumable_json: String, rtp_capabilities_json: String) -> Result<String> {
    let consumable = parse_json(&consumable_json, "consumable parameters")?;
    let mut caps = parse_json(&rtp_capabilities_json, "rtpCapabilities")?;
    Ok(sync_result(crate::ortc::can_consume(&consumable, &mut caps).map(Value::Bool)))
}

#[napi(catch_unwind)]
pub fn supported_rtp_capabilities() -> String {
    crate::ortc::SUPPORTED_RTP_CAPABILITIES_JSON.to_string()
}

/// `ortc.validateAndNormalizeRtp{Capabilities,Parameters}()`: returns the normalized value.
#[napi(catch_unwind)]
pub fn validate_and_normalize(kind: String, value_json: String) -> Result<String> {
    let mut value = parse_json(&value_json, &kind)?;
    let r = match kind.as_str() {
        "capabilities" => crate::ortc::validate_rtp_capabilities(&mut value),
        "parameters" => crate::ortc::validate_rtp_parameters(&mut value),
        _ => return Err(Error::new(Status::InvalidArg, format!("unknown kind {kind}"))),
    };
    // mediasoup normalizes in place up to the first error: hand back the value either way.
    Ok(match r {
        Ok(()) => json!({ "value": value }).to_string(),
        Err(e) => json!({ "error": e.class(), "reason": e.message(), "value": value }).to_string(),
    })
}

#[napi(object)]
pub struct ScalabilityMode {
    pub spatial_layers: u32,
    pub temporal_layers: u32,
    pub ksvc: bool,
}

#[napi(catch_unwind)]
pub fn parse_scalability_mode(mode: Option<String>) -> ScalabilityMode {
    let m = crate::scalability::parse(mode.as_deref());
    ScalabilityMode { spatial_layers: m.spatial_layers, temporal_layers: m.temporal_layers, ksvc: m.ksvc }
}

/// Benchmark/test tool: the native viewer's DTLS parameters (`role: 'client'`), for
/// `connectTransport`.
#[napi(catch_unwind)]
pub fn native_viewer_dtls_parameters() -> String {
    json!({ "role": "client", "fingerprints": crate::client::certificate().fingerprints }).to_string()
}

/// The server side of a native client: its WebRtcTransport's parameters (+ the video SSRC).
fn viewer_params(v: &Value) -> Result<crate::client::ViewerParams> {
    let bad = |what: &str| Error::from_reason(format!("invalid {what}"));
    let candidate = v["iceCandidates"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["protocol"] == "udp"))
        .ok_or_else(|| bad("iceCandidates"))?;
    let ip = candidate["address"].as_str().or(candidate["ip"].as_str()).ok_or_else(|| bad("candidate address"))?;
    let port = candidate["port"].as_u64().ok_or_else(|| bad("candidate port"))? as u16;
    let server = format!("{ip}:{port}").parse().map_err(|_| bad("candidate address"))?;
    let fingerprints = v["dtlsParameters"]["fingerprints"]
        .as_array()
        .ok_or_else(|| bad("dtlsParameters"))?
        .iter()
        .filter_map(|f| {
            Some(crate::dtls::Fingerprint {
                algorithm: f["algorithm"].as_str()?.to_string(),
                value: f["value"].as_str()?.to_string(),
            })
        })
        .collect();
    Ok(crate::client::ViewerParams {
        server,
        ice_ufrag: v["iceParameters"]["usernameFragment"].as_str().ok_or_else(|| bad("iceParameters"))?.to_string(),
        ice_pwd: v["iceParameters"]["password"].as_str().ok_or_else(|| bad("iceParameters"))?.to_string(),
        fingerprints,
        video_ssrc: v["videoSsrc"].as_u64().unwrap_or(0) as u32,
        codec: crate::rtp::VideoCodec::from_mime(v["mimeType"].as_str().unwrap_or("video/VP8")),
        timeout: std::time::Duration::from_millis(v["timeoutMs"].as_u64().unwrap_or(20_000)),
    })
}

fn parse_value(json: &str) -> Result<Value> {
    serde_json::from_str(json).map_err(|e| Error::from_reason(e.to_string()))
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::from_reason(e.to_string()))
}

/// Benchmark/test tool: joins a WebRtcTransport as a browser would (ICE, DTLS, SRTP) and
/// resolves when the first complete key frame of `videoSsrc` has arrived, with timings (ms).
#[napi]
pub async fn native_viewer_watch(params_json: String) -> Result<String> {
    let params = viewer_params(&parse_value(&params_json)?)?;
    to_json(&crate::client::watch(params).await.map_err(Error::from_reason)?)
}

/// Benchmark/test tool: connects and counts the datagrams received for `durationMs`; with
/// `verify`, decrypts RTP and counts each stream's packets and sequence numbers.
#[napi]
pub async fn native_receiver_count(params_json: String) -> Result<String> {
    let v = parse_value(&params_json)?;
    let duration = std::time::Duration::from_millis(v["durationMs"].as_u64().unwrap_or(5000));
    let verify = v["verify"].as_bool().unwrap_or(false);
    let expect = v["expectPackets"].as_u64().unwrap_or(0);
    let params = viewer_params(&v)?;
    to_json(&crate::client::count(params, duration, verify, expect).await.map_err(Error::from_reason)?)
}

/// Benchmark/test tool: connects and sends synthetic VP8 (`videoKbps`, ssrc `videoSsrc`, PT 96)
/// and audio (ssrc `audioSsrc`, PT 111, `audioPps` packets/s, at most `audioPackets`) over SRTP
/// for `durationMs`, sequence numbers from `firstSeq`.
#[napi]
pub async fn native_publish(params_json: String) -> Result<String> {
    let v = parse_value(&params_json)?;
    let d = crate::client::PublishOptions::default();
    let o = crate::client::PublishOptions {
        duration: std::time::Duration::from_millis(v["durationMs"].as_u64().unwrap_or(5000)),
        audio_ssrc: v["audioSsrc"].as_u64().unwrap_or(0) as u32,
        video_kbps: v["videoKbps"].as_u64().unwrap_or(1500) as u32,
        audio_pps: v["audioPps"].as_u64().map_or(d.audio_pps, |n| n.clamp(1, 100_000) as u32),
        audio_packets: v["audioPackets"].as_u64().unwrap_or(0),
        first_seq: v["firstSeq"].as_u64().unwrap_or(0) as u16,
    };
    let params = viewer_params(&v)?;
    to_json(&crate::client::publish(params, o).await.map_err(Error::from_reason)?)
}
