use super::*;
use crate::api::ApiError;
use serde_json::json;

fn media_codecs() -> Value {
    json!([
        { "kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2 },
        { "kind": "video", "mimeType": "video/VP8", "clockRate": 90000 },
        { "kind": "video", "mimeType": "video/H264", "clockRate": 90000,
          "parameters": { "packetization-mode": 1, "profile-level-id": "42e01f" } },
    ])
}

fn pts(caps: &Value) -> Vec<(String, i64)> {
    caps["codecs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (c["mimeType"].as_str().unwrap().to_string(), c["preferredPayloadType"].as_i64().unwrap())
        })
        .collect()
}

#[test]
fn router_capabilities_take_dynamic_payload_types_in_order_with_rtx_for_video() {
    let caps = generate_router_rtp_capabilities(Some(&media_codecs())).unwrap();
    assert_eq!(
        pts(&caps),
        vec![
            ("audio/opus".into(), 100),
            ("video/VP8".into(), 101),
            ("video/rtx".into(), 102),
            ("video/H264".into(), 103),
            ("video/rtx".into(), 104),
        ]
    );
    let rtx = &caps["codecs"][2];
    assert_eq!(rtx["parameters"], json!({ "apt": 101 }));
    assert_eq!(rtx["rtcpFeedback"], json!([]));
    // Supported codec parameters merged with the given ones.
    assert_eq!(
        caps["codecs"][3]["parameters"],
        json!({ "level-asymmetry-allowed": 1, "packetization-mode": 1, "profile-level-id": "42e01f" })
    );
    // Normalized feedback carries an empty parameter.
    assert_eq!(caps["codecs"][1]["rtcpFeedback"][0], json!({ "type": "nack", "parameter": "" }));
    assert!(caps["codecs"][1].get("channels").is_none());
    assert_eq!(caps["headerExtensions"].as_array().unwrap().len(), 18);
}

#[test]
fn preferred_payload_types_are_kept_and_removed_from_the_dynamic_pool() {
    let codecs = json!([
        { "kind": "video", "mimeType": "video/VP8", "clockRate": 90000, "preferredPayloadType": 100 },
        { "kind": "audio", "mimeType": "audio/PCMU", "clockRate": 8000 },
        { "kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2 },
    ]);
    let caps = generate_router_rtp_capabilities(Some(&codecs)).unwrap();
    assert_eq!(
        pts(&caps),
        vec![
            ("video/VP8".into(), 100),
            ("video/rtx".into(), 101),
            ("audio/PCMU".into(), 0),
            ("audio/opus".into(), 102)
        ]
    );
}

#[test]
fn invalid_and_unsupported_codecs_are_rejected_with_the_right_class() {
    let err = |v: Value| generate_router_rtp_capabilities(Some(&v)).unwrap_err();
    assert_eq!(
        err(json!([{ "mimeType": "audio/chicken", "clockRate": 8000 }])),
        ApiError::unsupported("media codec not supported [mimeType:audio/chicken]")
    );
    // Opus must be stereo in mediasoup's table.
    assert!(matches!(
        err(json!([{ "mimeType": "audio/opus", "clockRate": 48000 }])),
        ApiError { kind: crate::api::ErrorKind::Unsupported, .. }
    ));
    assert_eq!(err(json!([{ "mimeType": "audio/opus" }])), ApiError::type_error("missing codec.clockRate"));
    assert_eq!(err(json!([{ "clockRate": 1 }])), ApiError::type_error("missing codec.mimeType"));
    assert_eq!(
        err(json!([{ "mimeType": "text/plain", "clockRate": 1 }])),
        ApiError::type_error("invalid codec.mimeType")
    );
    assert_eq!(err(json!([42])).kind, crate::api::ErrorKind::Type);
    assert_eq!(
        generate_router_rtp_capabilities(Some(&json!({}))).unwrap_err(),
        ApiError::type_error("mediaCodecs must be an Array")
    );
    assert_eq!(
        err(json!([
            { "mimeType": "audio/opus", "clockRate": 48000, "channels": 2, "preferredPayloadType": 111 },
            { "mimeType": "video/VP8", "clockRate": 90000, "preferredPayloadType": 111 },
        ])),
        ApiError::type_error("duplicated codec.preferredPayloadType")
    );
    assert_eq!(
        err(json!([{ "mimeType": "video/VP8", "clockRate": 90000, "parameters": { "x": [1] } }])),
        ApiError::type_error("invalid codec parameter [key:xs, value:[array]]")
    );
}

#[test]
fn running_out_of_dynamic_payload_types_is_an_error() {
    let many: Vec<Value> =
        (0..17).map(|_| json!({ "mimeType": "video/VP8", "clockRate": 90000 })).collect();
    assert_eq!(
        generate_router_rtp_capabilities(Some(&Value::Array(many))).unwrap_err(),
        ApiError::other("cannot allocate more dynamic codec payload types")
    );
}

#[test]
fn no_media_codecs_gives_header_extensions_only() {
    let caps = generate_router_rtp_capabilities(None).unwrap();
    assert_eq!(caps["codecs"], json!([]));
    assert!(!caps["headerExtensions"].as_array().unwrap().is_empty());
}

#[test]
fn strict_matching_checks_h264_profile_and_packetization_mode() {
    let mut a = json!({ "mimeType": "video/H264", "clockRate": 90000,
        "parameters": { "packetization-mode": 1, "profile-level-id": "42e01f" } });
    let b = json!({ "mimeType": "video/h264", "clockRate": 90000,
        "parameters": { "packetization-mode": 1, "profile-level-id": "42e015" } });
    assert!(match_codecs(&mut a, &b, true, true));
    assert_eq!(a["parameters"]["profile-level-id"], "42e015");
    let high = json!({ "mimeType": "video/H264", "clockRate": 90000,
        "parameters": { "packetization-mode": 1, "profile-level-id": "640032" } });
    assert!(!match_codecs(&mut a.clone(), &high, true, false));
    assert!(match_codecs(&mut a.clone(), &high, false, false));
    let mode0 = json!({ "mimeType": "video/H264", "clockRate": 90000,
        "parameters": { "profile-level-id": "42e01f" } });
    assert!(!match_codecs(&mut a.clone(), &mode0, true, false));
    let vp9a = json!({ "mimeType": "video/VP9", "clockRate": 90000, "parameters": { "profile-id": 2 } });
    let vp9b = json!({ "mimeType": "video/VP9", "clockRate": 90000, "parameters": {} });
    assert!(!match_codecs(&mut vp9a.clone(), &vp9b, true, false));
    assert!(match_codecs(&mut vp9a.clone(), &vp9b, false, false));
}

fn producer_params() -> Value {
    let mut p = json!({
        "mid": "0",
        "codecs": [
            { "mimeType": "video/VP8", "payloadType": 96, "clockRate": 90000,
              "rtcpFeedback": [{ "type": "nack" }, { "type": "nack", "parameter": "pli" }] },
            { "mimeType": "video/rtx", "payloadType": 97, "clockRate": 90000, "parameters": { "apt": 96 } },
        ],
        "headerExtensions": [
            { "uri": "urn:ietf:params:rtp-hdrext:sdes:mid", "id": 4 },
            { "uri": "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time", "id": 2 },
        ],
        "encodings": [
            { "ssrc": 1111, "rtx": { "ssrc": 2222 }, "maxBitrate": 100000, "scalabilityMode": "L1T3" },
            { "ssrc": 3333, "rtx": { "ssrc": 4444 }, "maxBitrate": 500000 },
        ],
        "rtcp": { "cname": "abc" },
    });
    validate_rtp_parameters(&mut p).unwrap();
    p
}

#[test]
fn producer_mapping_consumable_and_consumer_parameters() {
    let caps = generate_router_rtp_capabilities(Some(&media_codecs())).unwrap();
    let params = producer_params();
    let mapping = get_producer_rtp_parameters_mapping(&params, &caps, 500).unwrap();
    assert_eq!(
        mapping,
        json!({
            "codecs": [
                { "payloadType": 96, "mappedPayloadType": 101 },
                { "payloadType": 97, "mappedPayloadType": 102 },
            ],
            "encodings": [{ "ssrc": 1111, "mappedSsrc": 500 }, { "ssrc": 3333, "mappedSsrc": 501 }],
        })
    );
    let consumable = get_consumable_rtp_parameters("video", &params, &caps, &mapping);
    assert_eq!(consumable["codecs"][0]["payloadType"], 101);
    assert_eq!(consumable["codecs"][1]["mimeType"], "video/rtx");
    assert_eq!(consumable["encodings"][0], json!({ "ssrc": 500, "maxBitrate": 100000, "scalabilityMode": "L1T3", "dtx": false }));
    assert_eq!(consumable["rtcp"], json!({ "cname": "abc", "reducedSize": true }));
    // Only sendrecv/sendonly video extensions, abs-capture-time absent as the producer lacks it.
    let uris: Vec<&str> = consumable["headerExtensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["uri"].as_str().unwrap())
        .collect();
    assert!(uris.contains(&URI_MID) && uris.contains(&URI_TRANSPORT_CC));
    assert!(!uris.contains(&URI_ABS_CAPTURE_TIME));
    assert!(!uris.iter().any(|u| u.contains("rtp-stream-id")));

    let mut remote = caps.clone();
    assert!(can_consume(&consumable, &mut remote).unwrap());
    let mut audio_only = json!({ "codecs": [{ "mimeType": "audio/opus", "clockRate": 48000, "channels": 2 }] });
    assert!(!can_consume(&consumable, &mut audio_only).unwrap());
    assert!(can_consume(&consumable, &mut json!("x")).is_err());

    let mut next = 1000;
    let consumer = get_consumer_rtp_parameters(&consumable, &mut remote, false, true, || {
        next += 10;
        next
    })
    .unwrap();
    assert_eq!(consumer["encodings"], json!([{ "ssrc": 1010, "rtx": { "ssrc": 1011 }, "scalabilityMode": "L2T3", "maxBitrate": 500000 }]));
    // transport-cc negotiated → no REMB.
    let fbs: Vec<&str> = consumer["codecs"][0]["rtcpFeedback"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["type"].as_str().unwrap())
        .collect();
    assert!(fbs.contains(&"transport-cc") && !fbs.contains(&"goog-remb"));
    // Without RTX: no rtx codec, no plain NACK.
    let consumer = get_consumer_rtp_parameters(&consumable, &mut remote, false, false, || 7).unwrap();
    assert_eq!(consumer["codecs"].as_array().unwrap().len(), 1);
    assert!(consumer["encodings"][0].get("rtx").is_none());
    let pipe = get_pipe_consumer_rtp_parameters(&consumable, false, || 9);
    assert_eq!(pipe["encodings"].as_array().unwrap().len(), 2);
    assert!(pipe["headerExtensions"].as_array().unwrap().iter().all(|e| e["uri"] != URI_MID));
}

#[test]
fn producer_mapping_rejects_unknown_codecs_and_orphan_rtx() {
    let caps = generate_router_rtp_capabilities(Some(&media_codecs())).unwrap();
    let mut p = json!({ "codecs": [{ "mimeType": "video/VP9", "payloadType": 98, "clockRate": 90000 }] });
    validate_rtp_parameters(&mut p).unwrap();
    assert!(matches!(get_producer_rtp_parameters_mapping(&p, &caps, 1), Err(ApiError { kind: crate::api::ErrorKind::Unsupported, .. })));
    let mut p = json!({ "codecs": [
        { "mimeType": "video/VP8", "payloadType": 96, "clockRate": 90000 },
        { "mimeType": "video/rtx", "payloadType": 97, "clockRate": 90000, "parameters": { "apt": 95 } },
    ] });
    validate_rtp_parameters(&mut p).unwrap();
    assert_eq!(
        get_producer_rtp_parameters_mapping(&p, &caps, 1).unwrap_err(),
        ApiError::type_error("missing media codec found for RTX PT 97")
    );
}

#[test]
fn rtp_parameters_validation_errors() {
    let check = |mut v: Value| validate_rtp_parameters(&mut v).unwrap_err();
    assert_eq!(check(json!({})), ApiError::type_error("missing params.codecs"));
    assert_eq!(check(json!({ "codecs": [], "mid": 3 })), ApiError::type_error("params.mid is not a string"));
    assert_eq!(
        check(json!({ "codecs": [{ "mimeType": "audio/opus", "clockRate": 48000 }] })),
        ApiError::type_error("missing codec.payloadType")
    );
    assert_eq!(
        check(json!({ "codecs": [], "encodings": [{ "rtx": {} }] })),
        ApiError::type_error("missing encoding.rtx.ssrc")
    );
    assert_eq!(
        check(json!({ "codecs": [{ "mimeType": "video/rtx", "payloadType": 97, "clockRate": 90000, "parameters": { "apt": "96" } }] })),
        ApiError::type_error("invalid codec apt parameter")
    );
    let mut ok = json!({ "codecs": [] });
    validate_rtp_parameters(&mut ok).unwrap();
    assert_eq!(ok, json!({ "codecs": [], "headerExtensions": [], "encodings": [], "rtcp": { "reducedSize": true } }));
}

#[test]
fn sctp_stream_parameters() {
    let mut p = json!({ "streamId": 1, "maxRetransmits": 3 });
    validate_sctp_stream_parameters(&mut p).unwrap();
    assert_eq!(p["ordered"], false);
    let mut p = json!({ "streamId": 1, "ordered": true, "maxRetransmits": 3 });
    assert!(validate_sctp_stream_parameters(&mut p).is_err());
    let mut p = json!({ "streamId": 1, "maxRetransmits": 3, "maxPacketLifeTime": 3 });
    assert!(validate_sctp_stream_parameters(&mut p).is_err());
}
