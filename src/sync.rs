//! The synchronous API (`router.canConsume()`, `updateMediaCodecs()`, `ortc.*`,
//! `parseScalabilityMode()`): the core's ORTC on the Node thread, over data the facade holds.
//! Results are `{ value }` or `{ error, reason }`.

use ferrosoup_sfu::api::ApiError;
use ferrosoup_sfu::ortc;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::{json, Value};

use crate::error::{class_name, error_json};

fn parse_json(s: &str, what: &str) -> Result<Value> {
    serde_json::from_str(s).map_err(|e| Error::new(Status::InvalidArg, format!("invalid {what} JSON: {e}")))
}

fn sync_result(r: std::result::Result<Value, ApiError>) -> String {
    match r {
        Ok(v) => json!({ "value": v }).to_string(),
        Err(e) => error_json(&e).to_string(),
    }
}

/// `ortc.generateRouterRtpCapabilities()` on the calling thread (for `updateMediaCodecs()`).
#[napi(catch_unwind)]
pub fn generate_router_rtp_capabilities(media_codecs_json: Option<String>) -> Result<String> {
    let codecs = match media_codecs_json.as_deref() {
        None | Some("") => None,
        Some(s) => Some(parse_json(s, "mediaCodecs")?),
    };
    Ok(sync_result(ortc::generate_router_rtp_capabilities(codecs.as_ref())))
}

/// `ortc.canConsume()` over the consumable parameters the facade holds.
#[napi(catch_unwind)]
pub fn can_consume(consumable_json: String, rtp_capabilities_json: String) -> Result<String> {
    let consumable = parse_json(&consumable_json, "consumable parameters")?;
    let mut caps = parse_json(&rtp_capabilities_json, "rtpCapabilities")?;
    Ok(sync_result(ortc::can_consume(&consumable, &mut caps).map(Value::Bool)))
}

#[napi(catch_unwind)]
pub fn supported_rtp_capabilities() -> String {
    ortc::SUPPORTED_RTP_CAPABILITIES_JSON.to_string()
}

/// `ortc.validateAndNormalizeRtp{Capabilities,Parameters}()`: returns the normalized value.
#[napi(catch_unwind)]
pub fn validate_and_normalize(kind: String, value_json: String) -> Result<String> {
    let mut value = parse_json(&value_json, &kind)?;
    let r = match kind.as_str() {
        "capabilities" => ortc::validate_rtp_capabilities(&mut value),
        "parameters" => ortc::validate_rtp_parameters(&mut value),
        _ => return Err(Error::new(Status::InvalidArg, format!("unknown kind {kind}"))),
    };
    // mediasoup normalizes in place up to the first error: hand back the value either way.
    Ok(match r {
        Ok(()) => json!({ "value": value }).to_string(),
        Err(e) => json!({ "error": class_name(e.kind), "reason": e.message, "value": value }).to_string(),
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
    let m = ortc::scalability::parse(mode.as_deref());
    ScalabilityMode { spatial_layers: m.spatial_layers, temporal_layers: m.temporal_layers, ksvc: m.ksvc }
}

/// mediasoup's name for a facade method (`transport.dump` → `TRANSPORT_DUMP`), for the
/// messages the facade writes itself (a closed channel's).
#[napi]
pub fn mediasoup_method_name(method: String) -> String {
    ferrosoup_sfu::api::request::mediasoup_method_name(&method).to_string()
}
