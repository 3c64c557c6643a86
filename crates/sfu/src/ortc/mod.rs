//! ORTC: RTP capabilities and parameters as mediasoup negotiates them.
//!
//! Values are the JSON shapes of mediasoup's API (`RtpCapabilities`, `RtpParameters`, ...). The
//! validation rules follow mediasoup's JavaScript exactly (including its `typeof` and
//! truthiness checks), so the same input gives the same output and the same error class.

pub mod h264;

use std::sync::OnceLock;

use serde_json::{json, Map, Value};

pub mod js;
pub mod scalability;

use crate::api::ApiError;
use js::{get, is_number, is_object_like, is_string, truthy};

pub type Result<T> = std::result::Result<T, ApiError>;

fn type_err<T>(msg: impl Into<String>) -> Result<T> {
    Err(ApiError::type_error(msg.into()))
}

/// The capabilities mediasoup supports, as published by `getSupportedRtpCapabilities()`.
pub const SUPPORTED_RTP_CAPABILITIES_JSON: &str = include_str!("supported_rtp_capabilities.json");

/// Supported capabilities after normalization (what router capabilities are built from).
fn supported_normalized() -> &'static Value {
    static CAPS: OnceLock<Value> = OnceLock::new();
    CAPS.get_or_init(|| {
        let mut caps: Value = serde_json::from_str(SUPPORTED_RTP_CAPABILITIES_JSON)
            .expect("supported capabilities are valid JSON");
        validate_rtp_capabilities(&mut caps).expect("supported capabilities are valid");
        caps
    })
}

const DYNAMIC_PAYLOAD_TYPES: [u8; 32] = [
    100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118,
    119, 120, 121, 122, 123, 124, 125, 126, 127, 96, 97, 98, 99,
];

const URI_MID: &str = "urn:ietf:params:rtp-hdrext:sdes:mid";
const URI_ABS_SEND_TIME: &str = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time";
const URI_TRANSPORT_CC: &str =
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
const URI_ABS_CAPTURE_TIME: &str = "http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time";
const URI_DEPENDENCY_DESCRIPTOR: &str =
    "https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension";

// ---------------------------------------------------------------------------------------------
// Validation and normalization
// ---------------------------------------------------------------------------------------------

fn require_object<'a>(v: &'a mut Value, what: &str) -> Result<&'a mut Map<String, Value>> {
    if !is_object_like(Some(v)) {
        return type_err(format!("{what} is not an object"));
    }
    match v {
        Value::Object(o) => Ok(o),
        // `typeof null === 'object'`: JS then fails reading a property of it.
        _ => type_err(format!("Cannot read properties of {} (reading a property of {what})", js::display(Some(v)))),
    }
}

/// Optional array field: absent/falsy becomes `[]`, a present non-array is an error.
fn normalize_array_field(o: &mut Map<String, Value>, key: &str, msg: &str) -> Result<()> {
    let v = o.get(key);
    if truthy(v) && !matches!(v, Some(Value::Array(_))) {
        return type_err(msg.to_string());
    }
    if !truthy(v) {
        o.insert(key.into(), json!([]));
    }
    Ok(())
}

fn for_each_in_array(
    o: &mut Map<String, Value>,
    key: &str,
    mut f: impl FnMut(&mut Value) -> Result<()>,
) -> Result<()> {
    if let Some(Value::Array(items)) = o.get_mut(key) {
        for item in items.iter_mut() {
            f(item)?;
        }
    }
    Ok(())
}

pub fn validate_rtp_capabilities(caps: &mut Value) -> Result<()> {
    let o = require_object(caps, "caps")?;
    normalize_array_field(o, "codecs", "caps.codecs is not an array")?;
    for_each_in_array(o, "codecs", validate_rtp_codec_capability)?;
    normalize_array_field(o, "headerExtensions", "caps.headerExtensions is not an array")?;
    for_each_in_array(o, "headerExtensions", validate_rtp_header_extension)?;
    Ok(())
}

/// `^(audio|video)/(.+)` (case-insensitive) → the lower-cased kind.
fn mime_kind(mime: &str) -> Option<&'static str> {
    let (kind, rest) = mime.split_once('/')?;
    // `.+` needs one character that is not a line terminator.
    let first = rest.chars().next()?;
    if matches!(first, '\n' | '\r' | '\u{2028}' | '\u{2029}') {
        return None;
    }
    if kind.eq_ignore_ascii_case("audio") {
        Some("audio")
    } else if kind.eq_ignore_ascii_case("video") {
        Some("video")
    } else {
        None
    }
}

fn validate_mime_type(o: &Map<String, Value>) -> Result<&'static str> {
    let mime = o.get("mimeType");
    if !truthy(mime) || !is_string(mime) {
        return type_err("missing codec.mimeType");
    }
    mime_kind(mime.and_then(Value::as_str).unwrap_or_default())
        .ok_or_else(|| ApiError::type_error("invalid codec.mimeType"))
}

/// Shared tail of codec capability and codec parameters validation.
fn normalize_codec_common(o: &mut Map<String, Value>, kind: &str) -> Result<()> {
    if !is_number(o.get("clockRate")) {
        return type_err("missing codec.clockRate");
    }
    if kind == "audio" {
        if !is_number(o.get("channels")) {
            o.insert("channels".into(), json!(1));
        }
    } else {
        o.remove("channels");
    }
    let params = o.get("parameters");
    if !truthy(params) || !is_object_like(params) {
        o.insert("parameters".into(), json!({}));
    }
    if let Some(Value::Object(params)) = o.get_mut("parameters") {
        for (key, value) in params.iter_mut() {
            if value.is_null() {
                // JSON has no `undefined`; treat null the way mediasoup treats undefined.
                *value = json!("");
            }
            if !value.is_string() && !value.is_number() {
                return type_err(format!(
                    "invalid codec parameter [key:{key}s, value:{}]",
                    js::display(Some(value))
                ));
            }
            if key == "apt" && !value.is_number() {
                return type_err("invalid codec apt parameter");
            }
        }
    }
    let fbs = o.get("rtcpFeedback");
    if !truthy(fbs) || !matches!(fbs, Some(Value::Array(_))) {
        o.insert("rtcpFeedback".into(), json!([]));
    }
    for_each_in_array(o, "rtcpFeedback", validate_rtcp_feedback)
}

pub fn validate_rtp_codec_capability(codec: &mut Value) -> Result<()> {
    let o = require_object(codec, "codec")?;
    let kind = validate_mime_type(o)?;
    o.insert("kind".into(), json!(kind));
    let ppt = o.get("preferredPayloadType");
    if truthy(ppt) && !is_number(ppt) {
        return type_err("invalid codec.preferredPayloadType");
    }
    normalize_codec_common(o, kind)
}

fn validate_rtcp_feedback(fb: &mut Value) -> Result<()> {
    let o = require_object(fb, "fb")?;
    let t = o.get("type");
    if !truthy(t) || !is_string(t) {
        return type_err("missing fb.type");
    }
    let p = o.get("parameter");
    if !truthy(p) || !is_string(p) {
        o.insert("parameter".into(), json!(""));
    }
    Ok(())
}

fn validate_rtp_header_extension(ext: &mut Value) -> Result<()> {
    let o = require_object(ext, "ext")?;
    let kind = o.get("kind").and_then(Value::as_str);
    if kind != Some("audio") && kind != Some("video") {
        return type_err("invalid ext.kind");
    }
    let uri = o.get("uri");
    if !truthy(uri) || !is_string(uri) {
        return type_err("missing ext.uri");
    }
    if !is_number(o.get("preferredId")) {
        return type_err("missing ext.preferredId");
    }
    let enc = o.get("preferredEncrypt");
    if truthy(enc) && !matches!(enc, Some(Value::Bool(_))) {
        return type_err("invalid ext.preferredEncrypt");
    } else if !truthy(enc) {
        o.insert("preferredEncrypt".into(), json!(false));
    }
    let dir = o.get("direction");
    if truthy(dir) && !is_string(dir) {
        return type_err("invalid ext.direction");
    } else if !truthy(dir) {
        o.insert("direction".into(), json!("sendrecv"));
    }
    Ok(())
}

pub fn validate_rtp_parameters(params: &mut Value) -> Result<()> {
    let o = require_object(params, "params")?;
    let mid = o.get("mid");
    if truthy(mid) && !is_string(mid) {
        return type_err("params.mid is not a string");
    }
    if !matches!(o.get("codecs"), Some(Value::Array(_))) {
        return type_err("missing params.codecs");
    }
    for_each_in_array(o, "codecs", validate_rtp_codec_parameters)?;
    normalize_array_field(o, "headerExtensions", "params.headerExtensions is not an array")?;
    for_each_in_array(o, "headerExtensions", validate_rtp_header_extension_parameters)?;
    normalize_array_field(o, "encodings", "params.encodings is not an array")?;
    for_each_in_array(o, "encodings", validate_rtp_encoding_parameters)?;
    let rtcp = o.get("rtcp");
    if truthy(rtcp) && !is_object_like(rtcp) {
        return type_err("params.rtcp is not an object");
    } else if !truthy(rtcp) {
        o.insert("rtcp".into(), json!({}));
    }
    let msid = o.get("msid");
    if truthy(msid) && !is_string(msid) {
        return type_err("params.msid is not a string");
    }
    validate_rtcp_parameters(o.get_mut("rtcp").expect("set above"))
}

fn validate_rtp_codec_parameters(codec: &mut Value) -> Result<()> {
    let o = require_object(codec, "codec")?;
    let kind = validate_mime_type(o)?;
    if !is_number(o.get("payloadType")) {
        return type_err("missing codec.payloadType");
    }
    normalize_codec_common(o, kind)
}

fn validate_rtp_header_extension_parameters(ext: &mut Value) -> Result<()> {
    let o = require_object(ext, "ext")?;
    let uri = o.get("uri");
    if !truthy(uri) || !is_string(uri) {
        return type_err("missing ext.uri");
    }
    if !is_number(o.get("id")) {
        return type_err("missing ext.id");
    }
    let enc = o.get("encrypt");
    if truthy(enc) && !matches!(enc, Some(Value::Bool(_))) {
        return type_err("invalid ext.encrypt");
    } else if !truthy(enc) {
        o.insert("encrypt".into(), json!(false));
    }
    let params = o.get("parameters");
    if !truthy(params) || !is_object_like(params) {
        o.insert("parameters".into(), json!({}));
    }
    if let Some(Value::Object(params)) = o.get_mut("parameters") {
        for value in params.values_mut() {
            if value.is_null() {
                *value = json!("");
            }
            if !value.is_string() && !value.is_number() {
                return type_err("invalid header extension parameter");
            }
        }
    }
    Ok(())
}

fn validate_rtp_encoding_parameters(encoding: &mut Value) -> Result<()> {
    let o = require_object(encoding, "encoding")?;
    let ssrc = o.get("ssrc");
    if truthy(ssrc) && !is_number(ssrc) {
        return type_err("invalid encoding.ssrc");
    }
    let rid = o.get("rid");
    if truthy(rid) && !is_string(rid) {
        return type_err("invalid encoding.rid");
    }
    let rtx = o.get("rtx");
    if truthy(rtx) && !is_object_like(rtx) {
        return type_err("invalid encoding.rtx");
    } else if truthy(rtx) && !is_number(rtx.and_then(|r| get(r, "ssrc"))) {
        return type_err("missing encoding.rtx.ssrc");
    }
    let dtx = o.get("dtx");
    if !truthy(dtx) || !matches!(dtx, Some(Value::Bool(_))) {
        o.insert("dtx".into(), json!(false));
    }
    let sm = o.get("scalabilityMode");
    if truthy(sm) && !is_string(sm) {
        return type_err("invalid encoding.scalabilityMode");
    }
    Ok(())
}

fn validate_rtcp_parameters(rtcp: &mut Value) -> Result<()> {
    let o = require_object(rtcp, "rtcp")?;
    let cname = o.get("cname");
    if truthy(cname) && !is_string(cname) {
        return type_err("invalid rtcp.cname");
    }
    let rs = o.get("reducedSize");
    if !truthy(rs) || !matches!(rs, Some(Value::Bool(_))) {
        o.insert("reducedSize".into(), json!(true));
    }
    Ok(())
}

pub fn validate_sctp_stream_parameters(params: &mut Value) -> Result<()> {
    let o = require_object(params, "params")?;
    if !is_number(o.get("streamId")) {
        return type_err("missing params.streamId");
    }
    let ordered_given = matches!(o.get("ordered"), Some(Value::Bool(_)));
    if !ordered_given {
        o.insert("ordered".into(), json!(true));
    }
    let lifetime = truthy(o.get("maxPacketLifeTime"));
    if lifetime && !is_number(o.get("maxPacketLifeTime")) {
        return type_err("invalid params.maxPacketLifeTime");
    }
    let retransmits = truthy(o.get("maxRetransmits"));
    if retransmits && !is_number(o.get("maxRetransmits")) {
        return type_err("invalid params.maxRetransmits");
    }
    if lifetime && retransmits {
        return type_err("cannot provide both maxPacketLifeTime and maxRetransmits");
    }
    let ordered = truthy(o.get("ordered"));
    if ordered_given && ordered && (lifetime || retransmits) {
        return type_err("cannot be ordered with maxPacketLifeTime or maxRetransmits");
    } else if !ordered_given && (lifetime || retransmits) {
        o.insert("ordered".into(), json!(false));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Codec matching
// ---------------------------------------------------------------------------------------------

pub fn is_rtx_codec(codec: &Value) -> bool {
    // `/.+\/rtx$/i`
    let mime = get(codec, "mimeType").and_then(Value::as_str).unwrap_or_default();
    let lower = mime.to_ascii_lowercase();
    lower.len() > 4 && lower.ends_with("/rtx")
}

fn param<'a>(codec: &'a Value, key: &str) -> Option<&'a Value> {
    get(codec, "parameters").and_then(|p| get(p, key))
}

/// Whether two codecs are the same codec. `strict` also checks the parameters that make
/// codecs incompatible (H264 profile and packetization mode, VP9 profile). With `modify`, the
/// H264 `profile-level-id` of `a` becomes the negotiated answer.
pub fn match_codecs(a: &mut Value, b: &Value, strict: bool, modify: bool) -> bool {
    match codecs_match(a, b, strict) {
        None => false,
        Some(answer) => {
            if modify {
                if let (Some(answer), Some(Value::Object(params))) = (answer, a.get_mut("parameters")) {
                    match answer {
                        Some(id) => {
                            params.insert("profile-level-id".into(), json!(id));
                        }
                        None => {
                            params.shift_remove("profile-level-id");
                        }
                    }
                }
            }
            true
        }
    }
}

/// Matching without changing anything (the hot path of canConsume/consume).
fn matches(a: &Value, b: &Value, strict: bool) -> bool {
    codecs_match(a, b, strict).is_some()
}

/// `None` if the codecs differ; otherwise, for strict H264, the profile-level-id to answer with
/// (`Some(None)`: remove it), else `None` inside.
fn codecs_match(a: &Value, b: &Value, strict: bool) -> Option<Option<Option<String>>> {
    let a_mime = get(a, "mimeType").and_then(Value::as_str).unwrap_or_default();
    let b_mime = get(b, "mimeType").and_then(Value::as_str).unwrap_or_default();
    // JS toLowerCase(): ASCII fast path, Unicode otherwise.
    let same = if a_mime.is_ascii() && b_mime.is_ascii() {
        a_mime.eq_ignore_ascii_case(b_mime)
    } else {
        a_mime.to_lowercase() == b_mime.to_lowercase()
    };
    if !same {
        return None;
    }
    if !js::strict_eq(get(a, "clockRate"), get(b, "clockRate")) {
        return None;
    }
    if !js::strict_eq(get(a, "channels"), get(b, "channels")) {
        return None;
    }
    match a_mime.to_ascii_lowercase().as_str() {
        "audio/multiopus" => {
            for key in ["num_streams", "coupled_streams"] {
                if !js::strict_eq(param(a, key), param(b, key)) {
                    return None;
                }
            }
            Some(None)
        }
        "video/h264" if strict => {
            let zero = json!(0);
            let a_mode = js::or(param(a, "packetization-mode"), &zero);
            let b_mode = js::or(param(b, "packetization-mode"), &zero);
            if !js::strict_eq(Some(a_mode), Some(b_mode)) {
                return None;
            }
            if !h264::is_same_profile(get(a, "parameters"), get(b, "parameters")) {
                return None;
            }
            match h264::profile_level_id_for_answer(get(a, "parameters"), get(b, "parameters")) {
                Ok(answer) => Some(Some(answer)),
                Err(_) => None,
            }
        }
        "video/vp9" if strict => {
            let zero = json!(0);
            let a_profile = js::or(param(a, "profile-id"), &zero);
            let b_profile = js::or(param(b, "profile-id"), &zero);
            if !js::strict_eq(Some(a_profile), Some(b_profile)) {
                return None;
            }
            Some(None)
        }
        _ => Some(None),
    }
}


// ---------------------------------------------------------------------------------------------
// Router capabilities
// ---------------------------------------------------------------------------------------------

/// The Router's RTP capabilities for the given `mediaCodecs` (`undefined` → `None`).
pub fn generate_router_rtp_capabilities(media_codecs: Option<&Value>) -> Result<Value> {
    let supported = supported_normalized();
    let media_codecs = match media_codecs {
        None => Vec::new(),
        Some(Value::Array(list)) => list.clone(),
        Some(_) => return type_err("mediaCodecs must be an Array"),
    };
    let supported_codecs = supported["codecs"].as_array().expect("codecs");
    let mut dynamic: Vec<u8> = DYNAMIC_PAYLOAD_TYPES.to_vec();
    let mut codecs: Vec<Value> = Vec::new();

    for mut media_codec in media_codecs {
        validate_rtp_codec_capability(&mut media_codec)?;
        let Some(matched) = supported_codecs.iter().find(|s| matches(&media_codec, s, false)) else {
            return Err(ApiError::unsupported(format!(
                "media codec not supported [mimeType:{}]",
                js::display(get(&media_codec, "mimeType"))
            )));
        };
        let mut codec = matched.clone();
        let given_pt = get(&media_codec, "preferredPayloadType").and_then(Value::as_f64);
        if let Some(pt) = given_pt {
            codec["preferredPayloadType"] = js::num_f64(pt);
            dynamic.retain(|d| f64::from(*d) != pt);
        } else if is_number(get(&codec, "preferredPayloadType")) {
            // A static payload type (PCMU, PCMA, ...): not taken from the dynamic range.
        } else {
            if dynamic.is_empty() {
                return Err(ApiError::other("cannot allocate more dynamic codec payload types"));
            }
            codec["preferredPayloadType"] = json!(dynamic.remove(0));
        }
        if codecs
            .iter()
            .any(|c| js::strict_eq(get(c, "preferredPayloadType"), get(&codec, "preferredPayloadType")))
        {
            return type_err("duplicated codec.preferredPayloadType");
        }
        // Merge the given parameters over the supported codec's.
        let mut params = get(&codec, "parameters").and_then(Value::as_object).cloned().unwrap_or_default();
        if let Some(given) = get(&media_codec, "parameters").and_then(Value::as_object) {
            for (k, v) in given {
                params.insert(k.clone(), v.clone());
            }
        }
        codec["parameters"] = Value::Object(params);
        let is_video = get(&codec, "kind").and_then(Value::as_str) == Some("video");
        let pt = codec["preferredPayloadType"].clone();
        let clock_rate = codec["clockRate"].clone();
        codecs.push(codec);
        if is_video {
            if dynamic.is_empty() {
                return Err(ApiError::other("cannot allocate more dynamic codec payload types"));
            }
            let rtx_pt = dynamic.remove(0);
            codecs.push(json!({
                "kind": "video",
                "mimeType": "video/rtx",
                "preferredPayloadType": rtx_pt,
                "clockRate": clock_rate,
                "parameters": { "apt": pt },
                "rtcpFeedback": [],
            }));
        }
    }
    Ok(json!({
        "codecs": codecs,
        "headerExtensions": supported["headerExtensions"].clone(),
    }))
}

// ---------------------------------------------------------------------------------------------
// Producers and consumers
// ---------------------------------------------------------------------------------------------

/// Maps a producer's payload types and encodings to the router's. `params` must be validated.
/// `first_mapped_ssrc` is the SSRC of the first encoding in the router's space (random in
/// mediasoup); the following encodings take the next values.
pub fn get_producer_rtp_parameters_mapping(
    params: &Value,
    caps: &Value,
    first_mapped_ssrc: u32,
) -> Result<Value> {
    let empty = Vec::new();
    let codecs = get(params, "codecs").and_then(Value::as_array).unwrap_or(&empty);
    let cap_codecs = get(caps, "codecs").and_then(Value::as_array).unwrap_or(&empty);
    // (producer codec index, matched capability codec)
    let mut pairs: Vec<(usize, Value)> = Vec::new();
    for (i, codec) in codecs.iter().enumerate() {
        if is_rtx_codec(codec) {
            continue;
        }
        let mut c = codec.clone();
        let Some(cap) = cap_codecs.iter().find(|cap| match_codecs(&mut c, cap, true, true)) else {
            return Err(ApiError::unsupported(format!(
                "unsupported codec [mimeType:{}, payloadType:{}]",
                js::display(get(codec, "mimeType")),
                js::display(get(codec, "payloadType"))
            )));
        };
        pairs.push((i, cap.clone()));
    }
    for (i, codec) in codecs.iter().enumerate() {
        if !is_rtx_codec(codec) {
            continue;
        }
        let apt = param(codec, "apt");
        let Some(media_idx) =
            codecs.iter().position(|m| js::strict_eq(get(m, "payloadType"), apt))
        else {
            return type_err(format!(
                "missing media codec found for RTX PT {}",
                js::display(get(codec, "payloadType"))
            ));
        };
        // The associated codec may itself be RTX (nonsense input): mediasoup then fails reading
        // its capability; report it as a TypeError.
        let Some(cap_media) = pairs.iter().find(|(j, _)| *j == media_idx).map(|(_, c)| c.clone()) else {
            return type_err(format!(
                "missing media codec found for RTX PT {}",
                js::display(get(codec, "payloadType"))
            ));
        };
        let cap_pt = get(&cap_media, "preferredPayloadType");
        let Some(cap_rtx) = cap_codecs
            .iter()
            .find(|c| is_rtx_codec(c) && js::strict_eq(param(c, "apt"), cap_pt))
        else {
            return Err(ApiError::unsupported(format!(
                "no RTX codec for capability codec PT {}",
                js::display(cap_pt)
            )));
        };
        pairs.push((i, cap_rtx.clone()));
    }
    // mediasoup iterates a Map keyed by codec object; a codec object appears once, in insertion
    // order (media codecs first, then RTX).
    let mapping_codecs: Vec<Value> = pairs
        .iter()
        .map(|(i, cap)| {
            json!({
                "payloadType": codecs[*i]["payloadType"].clone(),
                "mappedPayloadType": cap["preferredPayloadType"].clone(),
            })
        })
        .collect();
    let mut mapped_ssrc = u64::from(first_mapped_ssrc);
    let encodings: Vec<Value> = get(params, "encodings")
        .and_then(Value::as_array)
        .unwrap_or(&empty)
        .iter()
        .map(|e| {
            let mut m = Map::new();
            if let Some(ssrc) = get(e, "ssrc") {
                m.insert("ssrc".into(), ssrc.clone());
            }
            if let Some(rid) = get(e, "rid") {
                m.insert("rid".into(), rid.clone());
            }
            m.insert("mappedSsrc".into(), json!(mapped_ssrc));
            mapped_ssrc += 1;
            Value::Object(m)
        })
        .collect();
    Ok(json!({ "codecs": mapping_codecs, "encodings": encodings }))
}

/// The producer's parameters in the router's space, from which consumers are derived.
pub fn get_consumable_rtp_parameters(
    kind: &str,
    params: &Value,
    caps: &Value,
    mapping: &Value,
) -> Value {
    let empty = Vec::new();
    let cap_codecs = get(caps, "codecs").and_then(Value::as_array).unwrap_or(&empty);
    let mut codecs = Vec::new();
    for codec in get(params, "codecs").and_then(Value::as_array).unwrap_or(&empty) {
        if is_rtx_codec(codec) {
            continue;
        }
        let mapped_pt = mapping["codecs"]
            .as_array()
            .unwrap_or(&empty)
            .iter()
            .find(|m| js::strict_eq(get(m, "payloadType"), get(codec, "payloadType")))
            .and_then(|m| get(m, "mappedPayloadType"));
        let Some(cap) =
            cap_codecs.iter().find(|c| js::strict_eq(get(c, "preferredPayloadType"), mapped_pt))
        else {
            continue;
        };
        let mut c = Map::new();
        c.insert("mimeType".into(), cap["mimeType"].clone());
        c.insert("payloadType".into(), cap["preferredPayloadType"].clone());
        c.insert("clockRate".into(), cap["clockRate"].clone());
        if let Some(ch) = get(cap, "channels") {
            c.insert("channels".into(), ch.clone());
        }
        c.insert("parameters".into(), codec.get("parameters").cloned().unwrap_or(json!({})));
        c.insert("rtcpFeedback".into(), cap.get("rtcpFeedback").cloned().unwrap_or(json!([])));
        let pt = c["payloadType"].clone();
        codecs.push(Value::Object(c));
        if let Some(rtx) =
            cap_codecs.iter().find(|r| is_rtx_codec(r) && js::strict_eq(param(r, "apt"), Some(&pt)))
        {
            codecs.push(json!({
                "mimeType": rtx["mimeType"].clone(),
                "payloadType": rtx["preferredPayloadType"].clone(),
                "clockRate": rtx["clockRate"].clone(),
                "parameters": rtx["parameters"].clone(),
                "rtcpFeedback": rtx["rtcpFeedback"].clone(),
            }));
        }
    }
    let producer_exts = get(params, "headerExtensions").and_then(Value::as_array).unwrap_or(&empty);
    let mut exts = Vec::new();
    for cap_ext in get(caps, "headerExtensions").and_then(Value::as_array).unwrap_or(&empty) {
        let dir = get(cap_ext, "direction").and_then(Value::as_str);
        if get(cap_ext, "kind").and_then(Value::as_str) != Some(kind)
            || (dir != Some("sendrecv") && dir != Some("sendonly"))
        {
            continue;
        }
        let uri = get(cap_ext, "uri").and_then(Value::as_str).unwrap_or_default();
        // abs-capture-time is proxied from the producer's packets: offer it only if they carry it.
        if uri == URI_ABS_CAPTURE_TIME
            && !producer_exts.iter().any(|e| get(e, "uri").and_then(Value::as_str) == Some(uri))
        {
            continue;
        }
        exts.push(json!({
            "uri": uri,
            "id": cap_ext["preferredId"].clone(),
            "encrypt": cap_ext["preferredEncrypt"].clone(),
            "parameters": {},
        }));
    }
    let maps = mapping["encodings"].as_array().cloned().unwrap_or_default();
    let encodings: Vec<Value> = get(params, "encodings")
        .and_then(Value::as_array)
        .unwrap_or(&empty)
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut e = e.as_object().cloned().unwrap_or_default();
            e.shift_remove("rid");
            e.shift_remove("rtx");
            e.shift_remove("codecPayloadType");
            e.insert("ssrc".into(), maps.get(i).map(|m| m["mappedSsrc"].clone()).unwrap_or(Value::Null));
            Value::Object(e)
        })
        .collect();
    let mut rtcp = Map::new();
    if let Some(cname) = get(params, "rtcp").and_then(|r| get(r, "cname")) {
        rtcp.insert("cname".into(), cname.clone());
    }
    rtcp.insert("reducedSize".into(), json!(true));
    let mut out = Map::new();
    out.insert("codecs".into(), Value::Array(codecs));
    out.insert("headerExtensions".into(), Value::Array(exts));
    out.insert("encodings".into(), Value::Array(encodings));
    out.insert("rtcp".into(), Value::Object(rtcp));
    if let Some(msid) = get(params, "msid") {
        out.insert("msid".into(), msid.clone());
    }
    Value::Object(out)
}

/// Whether `caps` can receive the producer whose consumable parameters are given.
pub fn can_consume(consumable: &Value, caps: &mut Value) -> Result<bool> {
    validate_rtp_capabilities(caps)?;
    let empty = Vec::new();
    let cap_codecs = get(caps, "codecs").and_then(Value::as_array).unwrap_or(&empty);
    let first = get(consumable, "codecs")
        .and_then(Value::as_array)
        .unwrap_or(&empty)
        .iter()
        .find(|codec| cap_codecs.iter().any(|cap| matches(cap, codec, true)));
    Ok(matches!(first, Some(codec) if !is_rtx_codec(codec)))
}

/// A consumer's RTP parameters. `ssrcs` supplies random SSRCs (one call per SSRC needed).
pub fn get_consumer_rtp_parameters(
    consumable: &Value,
    remote_caps: &mut Value,
    pipe: bool,
    enable_rtx: bool,
    mut ssrcs: impl FnMut() -> u32,
) -> Result<Value> {
    let empty = Vec::new();
    if let Some(Value::Array(cap_codecs)) = remote_caps.get_mut("codecs") {
        for c in cap_codecs.iter_mut() {
            validate_rtp_codec_capability(c)?;
        }
    }
    let cap_codecs = get(remote_caps, "codecs").and_then(Value::as_array).unwrap_or(&empty);
    let mut codecs: Vec<Value> = Vec::new();
    for codec in get(consumable, "codecs").and_then(Value::as_array).unwrap_or(&empty) {
        if !enable_rtx && is_rtx_codec(codec) {
            continue;
        }
        let Some(cap) = cap_codecs.iter().find(|cap| matches(cap, codec, true)) else {
            continue;
        };
        let mut codec = codec.clone();
        let fbs: Vec<Value> = get(cap, "rtcpFeedback")
            .and_then(Value::as_array)
            .unwrap_or(&empty)
            .iter()
            .filter(|fb| {
                enable_rtx
                    || get(fb, "type").and_then(Value::as_str) != Some("nack")
                    || truthy(get(fb, "parameter"))
            })
            .cloned()
            .collect();
        codec["rtcpFeedback"] = Value::Array(fbs);
        codecs.push(codec);
    }
    // Drop RTX codecs whose media codec did not make it.
    let mut rtx_supported = false;
    let mut idx = codecs.len();
    while idx > 0 {
        idx -= 1;
        if is_rtx_codec(&codecs[idx]) {
            let apt = param(&codecs[idx], "apt").cloned();
            if codecs.iter().any(|m| js::strict_eq(get(m, "payloadType"), apt.as_ref())) {
                rtx_supported = true;
            } else {
                codecs.remove(idx);
            }
        }
    }
    if codecs.is_empty() || is_rtx_codec(&codecs[0]) {
        return Err(ApiError::unsupported("no compatible media codecs"));
    }
    let cap_exts = get(remote_caps, "headerExtensions").and_then(Value::as_array).unwrap_or(&empty);
    let exts: Vec<Value> = get(consumable, "headerExtensions")
        .and_then(Value::as_array)
        .unwrap_or(&empty)
        .iter()
        .filter(|e| {
            cap_exts.iter().any(|c| {
                js::strict_eq(get(c, "preferredId"), get(e, "id"))
                    && js::strict_eq(get(c, "uri"), get(e, "uri"))
            })
        })
        .cloned()
        .collect();
    let has = |uri: &str| exts.iter().any(|e| get(e, "uri").and_then(Value::as_str) == Some(uri));
    let drop_types: &[&str] = if has(URI_TRANSPORT_CC) {
        &["goog-remb"]
    } else if has(URI_ABS_SEND_TIME) {
        &["transport-cc"]
    } else {
        &["transport-cc", "goog-remb"]
    };
    for codec in codecs.iter_mut() {
        if let Some(Value::Array(fbs)) = codec.get_mut("rtcpFeedback") {
            fbs.retain(|fb| {
                !drop_types.contains(&get(fb, "type").and_then(Value::as_str).unwrap_or_default())
            });
        }
    }
    let consumable_encodings =
        get(consumable, "encodings").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut encodings = Vec::new();
    if !pipe {
        let ssrc = ssrcs();
        let mut enc = Map::new();
        enc.insert("ssrc".into(), json!(ssrc));
        if rtx_supported {
            enc.insert("rtx".into(), json!({ "ssrc": u64::from(ssrc) + 1 }));
        }
        let mut scalability_mode = consumable_encodings
            .iter()
            .find(|e| truthy(get(e, "scalabilityMode")))
            .and_then(|e| get(e, "scalabilityMode"))
            .and_then(Value::as_str)
            .map(str::to_string);
        if consumable_encodings.len() > 1 {
            let temporal = scalability::parse(scalability_mode.as_deref()).temporal_layers;
            scalability_mode = Some(format!("L{}T{}", consumable_encodings.len(), temporal));
        }
        if let Some(sm) = scalability_mode {
            enc.insert("scalabilityMode".into(), json!(sm));
        }
        let max_bitrate = consumable_encodings
            .iter()
            .filter_map(|e| get(e, "maxBitrate").and_then(Value::as_f64))
            .fold(0.0_f64, f64::max);
        if max_bitrate > 0.0 {
            enc.insert("maxBitrate".into(), js::num_f64(max_bitrate));
        }
        encodings.push(Value::Object(enc));
    } else {
        let base = u64::from(ssrcs());
        let base_rtx = u64::from(ssrcs());
        for (i, e) in consumable_encodings.into_iter().enumerate() {
            let mut e = e.as_object().cloned().unwrap_or_default();
            e.insert("ssrc".into(), json!(base + i as u64));
            if rtx_supported {
                e.insert("rtx".into(), json!({ "ssrc": base_rtx + i as u64 }));
            } else {
                e.shift_remove("rtx");
            }
            encodings.push(Value::Object(e));
        }
    }
    let mut out = Map::new();
    out.insert("codecs".into(), Value::Array(codecs));
    out.insert("headerExtensions".into(), Value::Array(exts));
    out.insert("encodings".into(), Value::Array(encodings));
    out.insert("rtcp".into(), consumable.get("rtcp").cloned().unwrap_or(json!({})));
    if let Some(msid) = get(consumable, "msid") {
        out.insert("msid".into(), msid.clone());
    }
    Ok(Value::Object(out))
}

/// A pipe consumer's RTP parameters: all encodings kept, no BWE, RTX/NACK only if enabled.
pub fn get_pipe_consumer_rtp_parameters(
    consumable: &Value,
    enable_rtx: bool,
    mut ssrcs: impl FnMut() -> u32,
) -> Value {
    let empty = Vec::new();
    let mut codecs = Vec::new();
    for codec in get(consumable, "codecs").and_then(Value::as_array).unwrap_or(&empty) {
        if !enable_rtx && is_rtx_codec(codec) {
            continue;
        }
        let mut codec = codec.clone();
        if let Some(Value::Array(fbs)) = codec.get_mut("rtcpFeedback") {
            fbs.retain(|fb| {
                let t = get(fb, "type").and_then(Value::as_str).unwrap_or_default();
                let p = get(fb, "parameter");
                let p_str = p.and_then(Value::as_str).unwrap_or_default();
                (t == "nack" && p_str == "pli")
                    || (t == "ccm" && p_str == "fir")
                    || (enable_rtx && t == "nack" && !truthy(p))
            });
        }
        codecs.push(codec);
    }
    let mut exts: Vec<Value> = get(consumable, "headerExtensions")
        .and_then(Value::as_array)
        .unwrap_or(&empty)
        .iter()
        .filter(|e| {
            let uri = get(e, "uri").and_then(Value::as_str).unwrap_or_default();
            uri != URI_MID && uri != URI_ABS_SEND_TIME && uri != URI_TRANSPORT_CC
        })
        .cloned()
        .collect();
    // Where the dependency descriptor is receive-only in router capabilities (mediasoup's; not
    // ferrosoup's, which offer it to viewers), consumable parameters never carry it; pipes
    // forward it anyway.
    let supported = supported_normalized();
    if let Some(dd) = supported["headerExtensions"].as_array().and_then(|l| {
        l.iter().find(|e| {
            get(e, "uri").and_then(Value::as_str) == Some(URI_DEPENDENCY_DESCRIPTOR)
                && get(e, "direction").and_then(Value::as_str) != Some("sendrecv")
        })
    }) {
        exts.push(json!({
            "uri": URI_DEPENDENCY_DESCRIPTOR,
            "id": dd["preferredId"].clone(),
            "encrypt": dd["preferredEncrypt"].clone(),
            "parameters": {},
        }));
        exts.sort_by(|a, b| {
            let x = get(a, "id").and_then(Value::as_f64).unwrap_or(0.0);
            let y = get(b, "id").and_then(Value::as_f64).unwrap_or(0.0);
            x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal)
        });
    }
    let base = u64::from(ssrcs());
    let base_rtx = u64::from(ssrcs());
    let encodings: Vec<Value> = get(consumable, "encodings")
        .and_then(Value::as_array)
        .unwrap_or(&empty)
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut e = e.as_object().cloned().unwrap_or_default();
            e.insert("ssrc".into(), json!(base + i as u64));
            if enable_rtx {
                e.insert("rtx".into(), json!({ "ssrc": base_rtx + i as u64 }));
            } else {
                e.shift_remove("rtx");
            }
            Value::Object(e)
        })
        .collect();
    let mut out = Map::new();
    out.insert("codecs".into(), Value::Array(codecs));
    out.insert("headerExtensions".into(), Value::Array(exts));
    out.insert("encodings".into(), Value::Array(encodings));
    out.insert("rtcp".into(), consumable.get("rtcp").cloned().unwrap_or(json!({})));
    if let Some(msid) = get(consumable, "msid") {
        out.insert("msid".into(), msid.clone());
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests;
