//! Requests from the app to a worker, parsed once at the edge (the binding) into one typed
//! struct per method. A missing or malformed field is a `TypeError` there, never a default.
//!
//! RTP parameters and capabilities stay JSON values: mediasoup's ORTC rules are written against
//! JavaScript semantics (`typeof`, truthiness), which `crate::ortc` reproduces over JSON.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use super::ids::*;
use super::{ApiError, ApiResult};
use crate::transport::listen::ListenInfo;

/// One request: the caller's id (echoed in the reply), the object it addresses (a router,
/// transport, producer or consumer id; empty for the worker) and what to do.
#[derive(Debug)]
pub struct Request {
    pub id: u32,
    /// mediasoup's name for the method (e.g. `TRANSPORT_DUMP`), for logs and error messages.
    pub method: &'static str,
    pub handler: String,
    pub body: Body,
}

#[derive(Debug)]
pub enum Body {
    WorkerDump,
    WorkerGetResourceUsage,
    WorkerUpdateSettings(UpdateSettings),
    WorkerCreateRouter(CreateRouter),
    WorkerCloseRouter(CloseRouter),
    WorkerCreateWebRtcServer(CreateWebRtcServer),
    WorkerCloseWebRtcServer(CloseWebRtcServer),
    /// Test hook (only with `FERROSOUP_TEST_HOOKS=1`): panics the worker thread.
    WorkerPanicForTesting,

    RouterDump,
    RouterUpdateRtpCapabilities(UpdateRtpCapabilities),
    RouterCreateWebRtcTransport(CreateWebRtcTransport),
    RouterCreateWebRtcTransportWithServer(CreateWebRtcTransportWithServer),
    RouterCreatePipeTransport(CreatePipeTransport),
    RouterCreatePlainTransport(CreatePlainTransport),
    RouterCreateDirectTransport(CreateDirectTransport),
    RouterCloseTransport(CloseTransport),
    RouterCreateAudioLevelObserver(CreateAudioLevelObserver),
    RouterCreateActiveSpeakerObserver(CreateActiveSpeakerObserver),
    RouterCloseRtpObserver(CloseRtpObserver),

    RtpObserverPause,
    RtpObserverResume,
    RtpObserverAddProducer(ObserverProducerRequest),
    RtpObserverRemoveProducer(ObserverProducerRequest),

    WebRtcServerDump,

    TransportDump,
    TransportGetStats,
    TransportProduce(Produce),
    TransportConsume(Consume),
    TransportCloseProducer(CloseProducer),
    TransportCloseConsumer(CloseConsumer),
    TransportSetMaxIncomingBitrate(Bitrate),
    TransportSetMaxOutgoingBitrate(Bitrate),
    TransportSetMinOutgoingBitrate(Bitrate),
    TransportEnableTraceEvent(TraceEventTypes),
    TransportRestartIce,
    WebRtcTransportConnect(WebRtcConnect),
    PipeTransportConnect(PipeConnect),
    PipeTransportConnectInMemory(ConnectInMemory),
    PlainTransportConnect(PlainConnect),
    /// A notification (no answer): RTCP from the app into a DirectTransport.
    TransportSendRtcp(Vec<u8>),

    TransportProduceData(ProduceData),
    TransportConsumeData(ConsumeData),
    TransportCloseDataProducer(CloseDataProducer),
    TransportCloseDataConsumer(CloseDataConsumer),

    DataProducerDump,
    DataProducerGetStats,
    DataProducerPause,
    DataProducerResume,
    /// A notification (no answer): a message from the app (DirectTransport data producers).
    DataProducerSend(DataSend),

    DataConsumerDump,
    DataConsumerGetStats,
    DataConsumerPause,
    DataConsumerResume,
    DataConsumerSetBufferedAmountLowThreshold(BufferedAmountLowThreshold),
    DataConsumerGetBufferedAmount,
    DataConsumerSend(DataConsumerSend),
    DataConsumerSetSubchannels(Subchannels),
    DataConsumerAddSubchannel(Subchannel),
    DataConsumerRemoveSubchannel(Subchannel),

    ProducerDump,
    ProducerGetStats,
    ProducerPause,
    ProducerResume,
    ProducerEnableTraceEvent(TraceEventTypes),
    /// A notification (no answer): RTP from the app into a producer's transport.
    ProducerSend(Vec<u8>),

    ConsumerDump,
    ConsumerGetStats,
    ConsumerPause,
    ConsumerResume,
    ConsumerSetPreferredLayers(PreferredLayers),
    ConsumerSetPriority(SetPriority),
    ConsumerRequestKeyFrame,
    ConsumerEnableTraceEvent(TraceEventTypes),
}

/// Which kind of object a request addresses (how its handler id is looked up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Worker,
    WebRtcServer,
    Router,
    Transport,
    Producer,
    Consumer,
    RtpObserver,
    DataProducer,
    DataConsumer,
}

impl Body {
    pub fn target(&self) -> Target {
        use Body::*;
        match self {
            WorkerDump | WorkerGetResourceUsage | WorkerUpdateSettings(_) | WorkerCreateRouter(_)
            | WorkerCloseRouter(_) | WorkerCreateWebRtcServer(_) | WorkerCloseWebRtcServer(_)
            | WorkerPanicForTesting => Target::Worker,
            WebRtcServerDump => Target::WebRtcServer,
            RouterDump | RouterUpdateRtpCapabilities(_) | RouterCreateWebRtcTransport(_)
            | RouterCreateWebRtcTransportWithServer(_) | RouterCreatePipeTransport(_) | RouterCreatePlainTransport(_)
            | RouterCreateDirectTransport(_) | RouterCloseTransport(_) | RouterCreateAudioLevelObserver(_)
            | RouterCreateActiveSpeakerObserver(_) | RouterCloseRtpObserver(_) => {
                Target::Router
            }
            TransportDump | TransportGetStats | TransportProduce(_) | TransportConsume(_)
            | TransportCloseProducer(_) | TransportCloseConsumer(_)
            | TransportSetMaxIncomingBitrate(_) | TransportSetMaxOutgoingBitrate(_)
            | TransportSetMinOutgoingBitrate(_) | TransportEnableTraceEvent(_) | TransportRestartIce
            | WebRtcTransportConnect(_) | PipeTransportConnect(_) | PipeTransportConnectInMemory(_)
            | PlainTransportConnect(_) | TransportSendRtcp(_) | TransportProduceData(_) | TransportConsumeData(_)
            | TransportCloseDataProducer(_) | TransportCloseDataConsumer(_) => {
                Target::Transport
            }
            ProducerDump | ProducerGetStats | ProducerPause | ProducerResume | ProducerEnableTraceEvent(_) | ProducerSend(_) => {
                Target::Producer
            }
            DataProducerDump | DataProducerGetStats | DataProducerPause | DataProducerResume | DataProducerSend(_) => Target::DataProducer,
            DataConsumerDump | DataConsumerGetStats | DataConsumerPause | DataConsumerResume
            | DataConsumerSetBufferedAmountLowThreshold(_) | DataConsumerGetBufferedAmount | DataConsumerSend(_)
            | DataConsumerSetSubchannels(_) | DataConsumerAddSubchannel(_) | DataConsumerRemoveSubchannel(_) => Target::DataConsumer,
            RtpObserverPause | RtpObserverResume | RtpObserverAddProducer(_) | RtpObserverRemoveProducer(_) => Target::RtpObserver,
            ConsumerDump | ConsumerGetStats | ConsumerPause | ConsumerResume | ConsumerSetPreferredLayers(_)
            | ConsumerSetPriority(_) | ConsumerRequestKeyFrame | ConsumerEnableTraceEvent(_) => Target::Consumer,
        }
    }
}

/// The facade's method names and mediasoup's for them (as its errors name them).
const METHODS: &[(&str, &str)] = &[
    ("worker.dump", "WORKER_DUMP"),
    ("worker.getResourceUsage", "WORKER_GET_RESOURCE_USAGE"),
    ("worker.updateSettings", "WORKER_UPDATE_SETTINGS"),
    ("worker.createRouter", "WORKER_CREATE_ROUTER"),
    ("worker.closeRouter", "WORKER_CLOSE_ROUTER"),
    ("worker.createWebRtcServer", "WORKER_CREATE_WEBRTCSERVER"),
    ("worker.closeWebRtcServer", "WORKER_WEBRTCSERVER_CLOSE"),
    ("worker.panicForTesting", "WORKER_PANIC_FOR_TESTING"),
    ("webRtcServer.dump", "WEBRTCSERVER_DUMP"),
    ("router.dump", "ROUTER_DUMP"),
    ("router.updateRtpCapabilities", "ROUTER_UPDATE_RTP_CAPABILITIES"),
    ("router.createWebRtcTransport", "ROUTER_CREATE_WEBRTCTRANSPORT"),
    ("router.createWebRtcTransportWithServer", "ROUTER_CREATE_WEBRTCTRANSPORT_WITH_SERVER"),
    ("router.createPipeTransport", "ROUTER_CREATE_PIPETRANSPORT"),
    ("router.createPlainTransport", "ROUTER_CREATE_PLAINTRANSPORT"),
    ("router.createDirectTransport", "ROUTER_CREATE_DIRECTTRANSPORT"),
    ("router.closeTransport", "ROUTER_CLOSE_TRANSPORT"),
    ("router.createAudioLevelObserver", "ROUTER_CREATE_AUDIOLEVELOBSERVER"),
    ("router.createActiveSpeakerObserver", "ROUTER_CREATE_ACTIVESPEAKEROBSERVER"),
    ("router.closeRtpObserver", "ROUTER_CLOSE_RTPOBSERVER"),
    ("rtpObserver.pause", "RTPOBSERVER_PAUSE"),
    ("rtpObserver.resume", "RTPOBSERVER_RESUME"),
    ("rtpObserver.addProducer", "RTPOBSERVER_ADD_PRODUCER"),
    ("rtpObserver.removeProducer", "RTPOBSERVER_REMOVE_PRODUCER"),
    ("transport.dump", "TRANSPORT_DUMP"),
    ("transport.getStats", "TRANSPORT_GET_STATS"),
    ("transport.produce", "TRANSPORT_PRODUCE"),
    ("transport.consume", "TRANSPORT_CONSUME"),
    ("transport.closeProducer", "TRANSPORT_CLOSE_PRODUCER"),
    ("transport.closeConsumer", "TRANSPORT_CLOSE_CONSUMER"),
    ("transport.setMaxIncomingBitrate", "TRANSPORT_SET_MAX_INCOMING_BITRATE"),
    ("transport.setMaxOutgoingBitrate", "TRANSPORT_SET_MAX_OUTGOING_BITRATE"),
    ("transport.setMinOutgoingBitrate", "TRANSPORT_SET_MIN_OUTGOING_BITRATE"),
    ("transport.enableTraceEvent", "TRANSPORT_ENABLE_TRACE_EVENT"),
    ("transport.restartIce", "TRANSPORT_RESTART_ICE"),
    ("webRtcTransport.connect", "WEBRTCTRANSPORT_CONNECT"),
    ("pipeTransport.connect", "PIPETRANSPORT_CONNECT"),
    ("pipeTransport.connectInMemory", "PIPETRANSPORT_CONNECT_IN_MEMORY"),
    ("plainTransport.connect", "PLAINTRANSPORT_CONNECT"),
    ("transport.sendRtcp", "TRANSPORT_SEND_RTCP"),
    ("producer.send", "PRODUCER_SEND"),
    ("transport.produceData", "TRANSPORT_PRODUCE_DATA"),
    ("transport.consumeData", "TRANSPORT_CONSUME_DATA"),
    ("transport.closeDataProducer", "TRANSPORT_CLOSE_DATAPRODUCER"),
    ("transport.closeDataConsumer", "TRANSPORT_CLOSE_DATACONSUMER"),
    ("dataProducer.dump", "DATAPRODUCER_DUMP"),
    ("dataProducer.getStats", "DATAPRODUCER_GET_STATS"),
    ("dataProducer.pause", "DATAPRODUCER_PAUSE"),
    ("dataProducer.resume", "DATAPRODUCER_RESUME"),
    ("dataProducer.send", "DATAPRODUCER_SEND"),
    ("dataConsumer.dump", "DATACONSUMER_DUMP"),
    ("dataConsumer.getStats", "DATACONSUMER_GET_STATS"),
    ("dataConsumer.pause", "DATACONSUMER_PAUSE"),
    ("dataConsumer.resume", "DATACONSUMER_RESUME"),
    ("dataConsumer.setBufferedAmountLowThreshold", "DATACONSUMER_SET_BUFFERED_AMOUNT_LOW_THRESHOLD"),
    ("dataConsumer.getBufferedAmount", "DATACONSUMER_GET_BUFFERED_AMOUNT"),
    ("dataConsumer.send", "DATACONSUMER_SEND"),
    ("dataConsumer.setSubchannels", "DATACONSUMER_SET_SUBCHANNELS"),
    ("dataConsumer.addSubchannel", "DATACONSUMER_ADD_SUBCHANNEL"),
    ("dataConsumer.removeSubchannel", "DATACONSUMER_REMOVE_SUBCHANNEL"),
    ("producer.dump", "PRODUCER_DUMP"),
    ("producer.getStats", "PRODUCER_GET_STATS"),
    ("producer.pause", "PRODUCER_PAUSE"),
    ("producer.resume", "PRODUCER_RESUME"),
    ("producer.enableTraceEvent", "PRODUCER_ENABLE_TRACE_EVENT"),
    ("consumer.dump", "CONSUMER_DUMP"),
    ("consumer.getStats", "CONSUMER_GET_STATS"),
    ("consumer.pause", "CONSUMER_PAUSE"),
    ("consumer.resume", "CONSUMER_RESUME"),
    ("consumer.setPreferredLayers", "CONSUMER_SET_PREFERRED_LAYERS"),
    ("consumer.setPriority", "CONSUMER_SET_PRIORITY"),
    ("consumer.requestKeyFrame", "CONSUMER_REQUEST_KEY_FRAME"),
    ("consumer.enableTraceEvent", "CONSUMER_ENABLE_TRACE_EVENT"),
];

/// mediasoup's name for a facade method (e.g. `TRANSPORT_DUMP`), for error messages.
pub fn mediasoup_method_name(method: &str) -> &'static str {
    METHODS.iter().find(|(m, _)| *m == method).map_or("UNKNOWN", |(_, n)| n)
}

impl Request {
    /// Parses a request as the facade sends it: method name, handler id and JSON data (empty
    /// for none).
    pub fn parse(id: u32, method: &str, handler: &str, data: &str) -> ApiResult<Request> {
        if method == "transport.consume" && !data.is_empty() && !handler.is_empty() {
            // Straight from the text: the capabilities stay text (see `Consume`).
            let c: Consume = serde_json::from_str(data).map_err(|e| ApiError::type_error(clean(&e)))?;
            return Ok(Request { id, method: mediasoup_method_name(method), handler: handler.to_string(), body: Body::TransportConsume(c) });
        }
        let value: Value = if data.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(data).map_err(|e| ApiError::type_error(format!("invalid request data: {}", clean(&e))))?
        };
        Self::from_value(id, method, handler, value)
    }

    pub fn from_value(id: u32, method: &str, handler: &str, data: Value) -> ApiResult<Request> {
        use Body::*;
        let body = match method {
            "worker.dump" => WorkerDump,
            "worker.getResourceUsage" => WorkerGetResourceUsage,
            "worker.updateSettings" => WorkerUpdateSettings(de(data)?),
            "worker.createRouter" => WorkerCreateRouter(de(data)?),
            "worker.closeRouter" => WorkerCloseRouter(de(data)?),
            "worker.createWebRtcServer" => WorkerCreateWebRtcServer(de(data)?),
            "worker.closeWebRtcServer" => WorkerCloseWebRtcServer(de(data)?),
            "worker.panicForTesting" => WorkerPanicForTesting,
            "webRtcServer.dump" => WebRtcServerDump,
            "router.dump" => RouterDump,
            "router.updateRtpCapabilities" => RouterUpdateRtpCapabilities(de(data)?),
            "router.createWebRtcTransport" => RouterCreateWebRtcTransport(de(data)?),
            "router.createWebRtcTransportWithServer" => RouterCreateWebRtcTransportWithServer(de(data)?),
            "router.createPipeTransport" => RouterCreatePipeTransport(de(data)?),
            "router.createPlainTransport" => RouterCreatePlainTransport(de(data)?),
            "router.createDirectTransport" => RouterCreateDirectTransport(de(data)?),
            "router.closeTransport" => RouterCloseTransport(de(data)?),
            "router.createAudioLevelObserver" => RouterCreateAudioLevelObserver(de(data)?),
            "router.createActiveSpeakerObserver" => RouterCreateActiveSpeakerObserver(de(data)?),
            "router.closeRtpObserver" => RouterCloseRtpObserver(de(data)?),
            "rtpObserver.pause" => RtpObserverPause,
            "rtpObserver.resume" => RtpObserverResume,
            "rtpObserver.addProducer" => RtpObserverAddProducer(de(data)?),
            "rtpObserver.removeProducer" => RtpObserverRemoveProducer(de(data)?),
            "transport.dump" => TransportDump,
            "transport.getStats" => TransportGetStats,
            "transport.produce" => TransportProduce(de(data)?),
            "transport.consume" => TransportConsume(de(data)?),
            "transport.closeProducer" => TransportCloseProducer(de(data)?),
            "transport.closeConsumer" => TransportCloseConsumer(de(data)?),
            "transport.setMaxIncomingBitrate" => TransportSetMaxIncomingBitrate(de(data)?),
            "transport.setMaxOutgoingBitrate" => TransportSetMaxOutgoingBitrate(de(data)?),
            "transport.setMinOutgoingBitrate" => TransportSetMinOutgoingBitrate(de(data)?),
            "transport.enableTraceEvent" => TransportEnableTraceEvent(de(data)?),
            "transport.restartIce" => TransportRestartIce,
            "webRtcTransport.connect" => WebRtcTransportConnect(de(data)?),
            "pipeTransport.connect" => PipeTransportConnect(PipeConnect { data }),
            "pipeTransport.connectInMemory" => PipeTransportConnectInMemory(de(data)?),
            "plainTransport.connect" => PlainTransportConnect(PlainConnect { data }),
            "transport.produceData" => TransportProduceData(de(data)?),
            "transport.consumeData" => TransportConsumeData(de(data)?),
            "transport.closeDataProducer" => TransportCloseDataProducer(de(data)?),
            "transport.closeDataConsumer" => TransportCloseDataConsumer(de(data)?),
            "dataProducer.dump" => DataProducerDump,
            "dataProducer.getStats" => DataProducerGetStats,
            "dataProducer.pause" => DataProducerPause,
            "dataProducer.resume" => DataProducerResume,
            "dataConsumer.dump" => DataConsumerDump,
            "dataConsumer.getStats" => DataConsumerGetStats,
            "dataConsumer.pause" => DataConsumerPause,
            "dataConsumer.resume" => DataConsumerResume,
            "dataConsumer.setBufferedAmountLowThreshold" => DataConsumerSetBufferedAmountLowThreshold(de(data)?),
            "dataConsumer.getBufferedAmount" => DataConsumerGetBufferedAmount,
            "dataConsumer.send" => DataConsumerSend(de(data)?),
            "dataConsumer.setSubchannels" => DataConsumerSetSubchannels(de(data)?),
            "dataConsumer.addSubchannel" => DataConsumerAddSubchannel(de(data)?),
            "dataConsumer.removeSubchannel" => DataConsumerRemoveSubchannel(de(data)?),
            "producer.dump" => ProducerDump,
            "producer.getStats" => ProducerGetStats,
            "producer.pause" => ProducerPause,
            "producer.resume" => ProducerResume,
            "producer.enableTraceEvent" => ProducerEnableTraceEvent(de(data)?),
            "consumer.dump" => ConsumerDump,
            "consumer.getStats" => ConsumerGetStats,
            "consumer.pause" => ConsumerPause,
            "consumer.resume" => ConsumerResume,
            "consumer.setPreferredLayers" => ConsumerSetPreferredLayers(de(data)?),
            "consumer.setPriority" => ConsumerSetPriority(de(data)?),
            "consumer.requestKeyFrame" => ConsumerRequestKeyFrame,
            "consumer.enableTraceEvent" => ConsumerEnableTraceEvent(de(data)?),
            m => return Err(ApiError::other(format!("unknown method '{m}'"))),
        };
        if body.target() != Target::Worker && handler.is_empty() {
            return Err(ApiError::type_error(format!("missing handler id [method:{}]", mediasoup_method_name(method))));
        }
        Ok(Request { id, method: mediasoup_method_name(method), handler: handler.to_string(), body })
    }
}

impl Request {
    /// A notification with a binary payload (`producer.send`, `transport.sendRtcp`): id 0, no
    /// answer.
    pub fn notification(method: &str, handler: &str, payload: Vec<u8>, meta: &str) -> ApiResult<Request> {
        let body = match method {
            "producer.send" => Body::ProducerSend(payload),
            "transport.sendRtcp" => Body::TransportSendRtcp(payload),
            "dataProducer.send" => {
                let m: DataSendMeta = if meta.is_empty() { DataSendMeta::default() } else { serde_json::from_str(meta).map_err(|e| ApiError::type_error(clean(&e)))? };
                Body::DataProducerSend(DataSend { payload, ppid: m.ppid, subchannels: m.subchannels, required_subchannel: m.required_subchannel, ignored_subchannel: m.ignored_subchannel })
            }
            m => return Err(ApiError::other(format!("unknown notification '{m}'"))),
        };
        if handler.is_empty() {
            return Err(ApiError::type_error(format!("missing handler id [method:{}]", mediasoup_method_name(method))));
        }
        Ok(Request { id: 0, method: mediasoup_method_name(method), handler: handler.to_string(), body })
    }

    /// Whether the caller waits for an answer (notifications have id 0).
    pub fn wants_reply(&self) -> bool {
        self.id != 0
    }
}

/// serde's message without its position suffix, in mediasoup's words where they differ.
fn clean(e: &serde_json::Error) -> String {
    let s = e.to_string();
    let s = s.split(" at line ").next().unwrap_or(&s).to_string();
    // "missing field `producerId`" → "missing producerId"
    if let Some(field) = s.strip_prefix("missing field `").and_then(|r| r.strip_suffix('`')) {
        return format!("missing {field}");
    }
    s
}

fn de<T: DeserializeOwned>(v: Value) -> ApiResult<T> {
    // A request without data is an empty object to the structs (their required fields then
    // report what is missing).
    let v = if v.is_null() { Value::Object(Default::default()) } else { v };
    serde_json::from_value(v).map_err(|e| ApiError::type_error(clean(&e)))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateSettings {
    pub log_level: Option<String>,
    pub log_tags: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateRouter {
    pub router_id: RouterId,
    #[serde(default)]
    pub media_codecs: Option<Value>,
    /// ferrosoup extension: the routers' default key frame cache (`false` turns it off).
    #[serde(default)]
    pub key_frame_cache: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloseRouter {
    pub router_id: RouterId,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateRtpCapabilities {
    pub rtp_capabilities: Value,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateWebRtcTransport {
    pub transport_id: TransportId,
    pub listen_infos: Vec<ListenInfo>,
    #[serde(flatten)]
    pub sctp: SctpRequestOptions,
    /// Seconds without consent before ICE disconnects (0: never).
    #[serde(default = "default_consent")]
    pub ice_consent_timeout: u8,
    #[serde(default = "default_initial_bitrate")]
    pub initial_available_outgoing_bitrate: u64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateWebRtcServer {
    pub web_rtc_server_id: WebRtcServerId,
    pub listen_infos: Vec<ListenInfo>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloseWebRtcServer {
    pub web_rtc_server_id: WebRtcServerId,
}

/// `router.createWebRtcTransport({ webRtcServer })`: candidates from the server's sockets.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateWebRtcTransportWithServer {
    pub transport_id: TransportId,
    pub web_rtc_server_id: WebRtcServerId,
    #[serde(default = "yes")]
    pub enable_udp: bool,
    #[serde(default = "yes")]
    pub enable_tcp: bool,
    #[serde(default)]
    pub prefer_udp: bool,
    #[serde(default)]
    pub prefer_tcp: bool,
    #[serde(default = "default_consent")]
    pub ice_consent_timeout: u8,
    #[serde(default = "default_initial_bitrate")]
    pub initial_available_outgoing_bitrate: u64,
    #[serde(flatten)]
    pub sctp: SctpRequestOptions,
}

fn yes() -> bool {
    true
}

fn default_consent() -> u8 {
    30
}

fn default_initial_bitrate() -> u64 {
    600_000
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatePipeTransport {
    pub transport_id: TransportId,
    /// For `pipeToRouter()` between workers of this process: no socket, media in memory.
    #[serde(default)]
    pub in_memory: bool,
    #[serde(default)]
    pub listen_info: Option<ListenInfo>,
    #[serde(default)]
    pub enable_rtx: bool,
    #[serde(default)]
    pub enable_srtp: bool,
    #[serde(flatten)]
    pub sctp: SctpRequestOptions,
}

/// The SCTP options of a transport (`enableSctp` and the sizes), as mediasoup names them.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SctpRequestOptions {
    #[serde(default)]
    pub enable_sctp: bool,
    #[serde(default = "default_message_size")]
    pub max_send_message_size: u64,
    #[serde(default = "default_message_size")]
    pub max_receive_message_size: u64,
    #[serde(default = "default_send_buffer")]
    pub sctp_send_buffer_size: u64,
    #[serde(default = "default_send_buffer")]
    pub sctp_per_stream_send_queue_limit: u64,
    #[serde(default = "default_receive_window")]
    pub sctp_max_receiver_window_buffer_size: u64,
    #[serde(default = "default_low_threshold")]
    pub sctp_default_stream_buffered_amount_low_threshold: u64,
}

fn default_send_buffer() -> u64 {
    2_000_000
}

fn default_receive_window() -> u64 {
    5_242_880
}

fn default_low_threshold() -> u64 {
    1024
}

impl SctpRequestOptions {
    pub fn sctp(&self) -> Option<crate::net::sctp::SctpOptions> {
        self.enable_sctp.then(|| crate::net::sctp::SctpOptions {
            max_send_message_size: self.max_send_message_size as usize,
            max_receive_message_size: self.max_receive_message_size as usize,
            send_buffer_size: self.sctp_send_buffer_size as usize,
            per_stream_send_queue_limit: self.sctp_per_stream_send_queue_limit as usize,
            max_receiver_window: self.sctp_max_receiver_window_buffer_size.min(u64::from(u32::MAX)) as u32,
            default_buffered_amount_low_threshold: self.sctp_default_stream_buffered_amount_low_threshold as usize,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProduceData {
    pub data_producer_id: DataProducerId,
    #[serde(rename = "type")]
    pub ty: String,
    #[serde(default)]
    pub sctp_stream_parameters: Option<Value>,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub protocol: String,
    #[serde(default)]
    pub paused: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsumeData {
    pub data_consumer_id: DataConsumerId,
    pub data_producer_id: DataProducerId,
    #[serde(rename = "type")]
    pub ty: String,
    #[serde(default)]
    pub sctp_stream_parameters: Option<Value>,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub protocol: String,
    #[serde(default)]
    pub paused: bool,
    #[serde(default)]
    pub subchannels: Vec<u16>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloseDataProducer {
    pub data_producer_id: DataProducerId,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloseDataConsumer {
    pub data_consumer_id: DataConsumerId,
}

/// `dataProducer.send()`: the payload and what goes with it.
#[derive(Debug)]
pub struct DataSend {
    pub payload: Vec<u8>,
    pub ppid: u32,
    pub subchannels: Vec<u16>,
    pub required_subchannel: Option<u16>,
    pub ignored_subchannel: Option<u16>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DataSendMeta {
    #[serde(default = "binary_ppid")]
    ppid: u32,
    #[serde(default)]
    subchannels: Vec<u16>,
    #[serde(default)]
    required_subchannel: Option<u16>,
    #[serde(default)]
    ignored_subchannel: Option<u16>,
}

fn binary_ppid() -> u32 {
    53
}

#[derive(Debug, Deserialize)]
pub struct BufferedAmountLowThreshold {
    pub threshold: u64,
}

/// `dataConsumer.send()`: the payload base64-encoded in `data`.
#[derive(Debug, Deserialize)]
pub struct DataConsumerSend {
    pub ppid: u32,
    pub data: String,
}

#[derive(Debug, Deserialize)]
pub struct Subchannels {
    pub subchannels: Vec<u16>,
}

#[derive(Debug, Deserialize)]
pub struct Subchannel {
    pub subchannel: u16,
}

/// `router.createPlainTransport()`: RTP (and, without `rtcpMux`, RTCP) over UDP.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatePlainTransport {
    pub transport_id: TransportId,
    pub listen_info: ListenInfo,
    #[serde(default)]
    pub rtcp_listen_info: Option<ListenInfo>,
    #[serde(default = "yes")]
    pub rtcp_mux: bool,
    #[serde(default)]
    pub comedia: bool,
    #[serde(flatten)]
    pub sctp: SctpRequestOptions,
    #[serde(default)]
    pub enable_srtp: bool,
    #[serde(default)]
    pub srtp_crypto_suite: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateDirectTransport {
    pub transport_id: TransportId,
    #[serde(default = "default_message_size")]
    pub max_send_message_size: u64,
    #[serde(default = "default_message_size")]
    pub max_receive_message_size: u64,
}

fn default_message_size() -> u64 {
    262_144
}

/// `plainTransport.connect({ ip, port, rtcpPort, srtpParameters })`: checked by the transport
/// in mediasoup's order.
#[derive(Debug)]
pub struct PlainConnect {
    pub data: Value,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateAudioLevelObserver {
    pub rtp_observer_id: RtpObserverId,
    #[serde(default = "one")]
    pub max_entries: u16,
    #[serde(default = "default_threshold")]
    pub threshold: i8,
    #[serde(default = "default_alo_interval")]
    pub interval: u64,
}

fn one() -> u16 {
    1
}

fn default_threshold() -> i8 {
    -80
}

fn default_alo_interval() -> u64 {
    1000
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateActiveSpeakerObserver {
    pub rtp_observer_id: RtpObserverId,
    #[serde(default = "default_aso_interval")]
    pub interval: u64,
}

fn default_aso_interval() -> u64 {
    300
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloseRtpObserver {
    pub rtp_observer_id: RtpObserverId,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObserverProducerRequest {
    pub producer_id: ProducerId,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloseTransport {
    pub transport_id: TransportId,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Produce {
    pub producer_id: ProducerId,
    pub kind: MediaKind,
    pub rtp_parameters: Value,
    #[serde(default)]
    pub paused: bool,
    #[serde(default)]
    pub key_frame_request_delay: u64,
    /// ferrosoup extension: this producer's key frame cache (`false` turns it off).
    #[serde(default)]
    pub key_frame_cache: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Consume {
    pub consumer_id: ConsumerId,
    pub producer_id: ProducerId,
    /// As the app sent them: most joins send the same capabilities (one browser's), so the
    /// worker keys what it derived from them by this text and parses them only when new.
    pub rtp_capabilities: Box<serde_json::value::RawValue>,
    #[serde(default)]
    pub paused: bool,
    #[serde(default)]
    pub mid: Option<String>,
    #[serde(default)]
    pub preferred_layers: Option<Value>,
    #[serde(default)]
    pub ignore_dtx: bool,
    #[serde(default)]
    pub enable_rtx: Option<bool>,
    #[serde(default)]
    pub pipe: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloseProducer {
    pub producer_id: ProducerId,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloseConsumer {
    pub consumer_id: ConsumerId,
}

#[derive(Debug, Deserialize)]
pub struct Bitrate {
    pub bitrate: u64,
}

#[derive(Debug, Deserialize)]
pub struct TraceEventTypes {
    #[serde(default)]
    pub types: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebRtcConnect {
    /// Checked by the transport, with mediasoup's messages.
    #[serde(default)]
    pub dtls_parameters: Option<Value>,
}

/// `pipeTransport.connect({ ip, port, srtpParameters })`: checked by the transport, field by
/// field, with mediasoup's messages (its order of checks is part of its behaviour).
#[derive(Debug)]
pub struct PipeConnect {
    pub data: Value,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectInMemory {
    pub peer_worker: u32,
    pub peer_transport_id: TransportId,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreferredLayers {
    pub spatial_layer: u8,
    #[serde(default)]
    pub temporal_layer: Option<u8>,
}

#[derive(Debug, Deserialize)]
pub struct SetPriority {
    pub priority: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ErrorKind;

    #[test]
    fn parses_typed_bodies_and_rejects_missing_fields() {
        let r = Request::parse(1, "transport.closeProducer", "t1", r#"{"producerId":"p1"}"#).unwrap();
        match r.body {
            Body::TransportCloseProducer(c) => assert_eq!(c.producer_id.as_str(), "p1"),
            other => panic!("{other:?}"),
        }
        let e = Request::parse(2, "transport.closeProducer", "t1", "{}").unwrap_err();
        assert_eq!((e.kind, e.message.as_str()), (ErrorKind::Type, "missing producerId"));
        let e = Request::parse(3, "transport.produce", "t1", r#"{"producerId":"p","kind":"data","rtpParameters":{}}"#).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Type);
        let e = Request::parse(4, "router.dump", "", "").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Type);
        let e = Request::parse(5, "nope.nope", "", "").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Other);
        let e = Request::parse(6, "router.createWebRtcTransport", "r", r#"{"transportId":"t","listenInfos":[{"protocol":"udp","ip":"nope"}]}"#).unwrap_err();
        assert_eq!(e.message, "invalid IP 'nope'");
        assert!(matches!(Request::parse(7, "worker.dump", "", "").unwrap().body, Body::WorkerDump));
        assert_eq!(mediasoup_method_name("transport.dump"), "TRANSPORT_DUMP");
    }
}
