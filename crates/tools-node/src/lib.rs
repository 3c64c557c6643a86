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
/// `durationMs`, sequence numbers from `firstSeq`; `browserSizes`: frames split as libwebrtc
/// does (packet sizes differ by a byte) instead of equally.
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
        browser_sizes: v["browserSizes"].as_bool().unwrap_or(false),
    };
    to_json(&driver::publish(server(&v)?, o).await.map_err(Error::from_reason)?)
}

/// Benchmark tool: the forwarding floor (see `ferrosoup_testpeer::floor`): the publisher's
/// packets (`videoKbps`, `audioPps`) sealed and sent with sendmmsg to `receivers` local sockets
/// for `durationMs`, on a thread of its own; its CPU time per million datagrams. `oneSocket`:
/// every receiver from one socket (as a WebRtcServer), else a socket per receiver.
#[napi]
pub async fn native_floor(params_json: String) -> Result<String> {
    let v = parse(&params_json)?;
    let d = PublishOptions::default();
    let o = ferrosoup_testpeer::floor::FloorOptions {
        receivers: v["receivers"].as_u64().unwrap_or(100).clamp(1, 10_000) as usize,
        video_kbps: v["videoKbps"].as_u64().unwrap_or(u64::from(d.video_kbps)) as u32,
        audio_pps: v["audioPps"].as_u64().map_or(d.audio_pps, |n| n.clamp(1, 100_000) as u32),
        duration: ms(&v, "durationMs", 5000),
        one_socket: v["oneSocket"].as_bool().unwrap_or(false),
        browser_sizes: v["browserSizes"].as_bool().unwrap_or(false),
        sender_cpu: v["senderCpu"].as_u64().map(|c| c as usize),
    };
    let r = napi::tokio::task::spawn_blocking(move || ferrosoup_testpeer::floor::run(o)).await.map_err(|e| Error::from_reason(e.to_string()))?;
    to_json(&r.map_err(Error::from_reason)?)
}

/// Benchmark tool: the forwarding work without sockets. One engine on a thread of its own fed
/// the publisher's packets in virtual time (`warmUpMs` then `measuredMs` of media) for
/// `viewers` plain SRTP viewers; its CPU time per datagram, and the floor's copy-and-seal per
/// datagram on the same packets.
#[napi]
pub async fn native_engine_forward(params_json: String) -> Result<String> {
    let v = parse(&params_json)?;
    let d = PublishOptions::default();
    let o = ferrosoup_testpeer::engine_bench::EngineBenchOptions {
        viewers: v["viewers"].as_u64().unwrap_or(500).clamp(1, 10_000) as usize,
        video_kbps: v["videoKbps"].as_u64().unwrap_or(u64::from(d.video_kbps)) as u32,
        audio_pps: v["audioPps"].as_u64().map_or(d.audio_pps, |n| n.clamp(1, 100_000) as u32),
        warm_up: ms(&v, "warmUpMs", 3000),
        measured: ms(&v, "measuredMs", 10_000),
        browser_sizes: v["browserSizes"].as_bool().unwrap_or(true),
    };
    let r = napi::tokio::task::spawn_blocking(move || ferrosoup_testpeer::engine_bench::run(&o)).await.map_err(|e| Error::from_reason(e.to_string()))?;
    to_json(&r.map_err(Error::from_reason)?)
}

/// Benchmark tool: a hostile peer against a transport for `durationMs` (`kind`: `nack-flood`,
/// `pli-flood`, `forged-srtp`, `sequence-gaps`, `twcc-gaps`, `dtls-flood`, `tcp-idle`,
/// `garbage`; with `mediaSsrc`, `ssrc`, `extId`, `connections` as the kind needs). For TCP,
/// the transport's TCP candidate is used.
#[napi]
pub async fn native_attack(params_json: String) -> Result<String> {
    use ferrosoup_testpeer::attack::{self, Attack};
    let v = parse(&params_json)?;
    let n = |k: &str| v[k].as_u64().unwrap_or(0);
    let kind = match v["kind"].as_str().unwrap_or_default() {
        "nack-flood" => Attack::NackFlood { media_ssrc: n("mediaSsrc") as u32 },
        "pli-flood" => Attack::PliFlood { media_ssrc: n("mediaSsrc") as u32 },
        "forged-srtp" => Attack::ForgedSrtp,
        "sequence-gaps" => Attack::SequenceGaps { ssrc: n("ssrc") as u32 },
        "twcc-gaps" => Attack::TwccGaps { ssrc: n("ssrc") as u32, ext_id: n("extId") as u8 },
        "dtls-flood" => Attack::DtlsFlood,
        "tcp-idle" => Attack::TcpIdle { connections: n("connections") as u32 },
        "garbage" => Attack::Garbage,
        k => return Err(Error::from_reason(format!("unknown attack {k}"))),
    };
    let mut server = server(&v)?;
    if let Attack::TcpIdle { .. } = kind {
        let c = v["iceCandidates"].as_array().and_then(|c| c.iter().find(|c| c["protocol"] == "tcp")).ok_or_else(|| Error::from_reason("no TCP candidate"))?;
        let ip = c["address"].as_str().or(c["ip"].as_str()).unwrap_or("127.0.0.1");
        server.addr = format!("{ip}:{}", c["port"]).parse().map_err(|_| Error::from_reason("bad TCP candidate"))?;
    }
    let r = attack::run(server, kind, ms(&v, "warmupMs", 0), ms(&v, "durationMs", 5000)).await.map_err(Error::from_reason)?;
    to_json(&r)
}
