//! Test-only Node addon: ferrosoup's native test peers (viewer, counting receiver, publisher)
//! for the JS tests and benchmarks. Built by `npm test` and the benchmarks; never part of the
//! `ferrosoup` package a user installs.

use std::time::Duration;

use ferrosoup_sfu::rtp::VideoCodec;
use ferrosoup_testpeer::driver::{self, PublishOptions, ViewerParams};
use ferrosoup_testpeer::peer::ServerParams;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::Value;

fn parse(json: &str) -> Result<Value> {
    serde_json::from_str(json).map_err(|e| Error::from_reason(e.to_string()))
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::from_reason(e.to_string()))
}

fn ms(v: &Value, key: &str, default: u64) -> Duration {
    Duration::from_millis(v[key].as_u64().unwrap_or(default))
}

fn server(v: &Value) -> Result<ServerParams> {
    ServerParams::from_json(v).map_err(Error::from_reason)
}

/// The peers' DTLS parameters (`role: 'client'`), for the server transport's `connect()`.
#[napi(catch_unwind)]
pub fn native_viewer_dtls_parameters() -> String {
    ferrosoup_testpeer::peer::dtls_parameters(&ferrosoup_testpeer::certificate()).to_string()
}

/// Joins a WebRtcTransport as a browser would (ICE, DTLS, SRTP) and resolves when the first
/// complete key frame of `videoSsrc` has arrived, with timings (ms).
#[napi]
pub async fn native_viewer_watch(params_json: String) -> Result<String> {
    let v = parse(&params_json)?;
    let p = ViewerParams {
        server: server(&v)?,
        video_ssrc: v["videoSsrc"].as_u64().unwrap_or(0) as u32,
        codec: VideoCodec::from_mime(v["mimeType"].as_str().unwrap_or("video/VP8")),
        timeout: ms(&v, "timeoutMs", 20_000),
    };
    to_json(&driver::watch(p).await.map_err(Error::from_reason)?)
}

/// Connects and counts the datagrams received for `durationMs`; with `verify`, decrypts RTP and
/// counts each stream's packets and sequence numbers (returning once one has `expectPackets`).
#[napi]
pub async fn native_receiver_count(params_json: String) -> Result<String> {
    let v = parse(&params_json)?;
    let r = driver::count(
        server(&v)?,
        ms(&v, "durationMs", 5000),
        ms(&v, "timeoutMs", 20_000),
        v["verify"].as_bool().unwrap_or(false),
        v["expectPackets"].as_u64().unwrap_or(0),
    )
    .await
    .map_err(Error::from_reason)?;
    to_json(&r)
}

/// Connects and sends synthetic VP8 (`videoKbps`, ssrc `videoSsrc`, PT 96) and audio (ssrc
/// `audioSsrc`, PT 111, `audioPps` packets/s, at most `audioPackets`) over SRTP for
/// `durationMs`, sequence numbers from `firstSeq`.
#[napi]
pub async fn native_publish(params_json: String) -> Result<String> {
    let v = parse(&params_json)?;
    let d = PublishOptions::default();
    let o = PublishOptions {
        video_ssrc: v["videoSsrc"].as_u64().unwrap_or(0) as u32,
        audio_ssrc: v["audioSsrc"].as_u64().unwrap_or(0) as u32,
        video_kbps: v["videoKbps"].as_u64().unwrap_or(u64::from(d.video_kbps)) as u32,
        duration: ms(&v, "durationMs", 5000),
        timeout: ms(&v, "timeoutMs", 10_000),
        audio_pps: v["audioPps"].as_u64().map_or(d.audio_pps, |n| n.clamp(1, 100_000) as u32),
        audio_packets: v["audioPackets"].as_u64().unwrap_or(0),
        first_seq: v["firstSeq"].as_u64().unwrap_or(0) as u16,
    };
    to_json(&driver::publish(server(&v)?, o).await.map_err(Error::from_reason)?)
}
