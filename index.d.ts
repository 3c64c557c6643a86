// Type declarations for ferrosoup: the mediasoup 3.27 Node.js API, served by a
// Rust native addon. Every public type lives in the `types` namespace under
// the same name and shape that mediasoup gives it.

import { EventEmitter } from 'node:events';

/* ------------------------------------------------------------------------ */
/* Module exports                                                            */
/* ------------------------------------------------------------------------ */

export declare const version: string;

/** ferrosoup: the mediasoup API level it implements, e.g. `'3.27.1'`. */
export declare const mediasoupVersion: string;

export declare const observer: types.Observer;

export declare function setLogEventListeners(listeners?: types.LogEventListeners): void;

export declare function createWorker<WorkerAppData extends types.AppData = types.AppData>(
	settings?: types.WorkerSettings<WorkerAppData>
): Promise<types.Worker<WorkerAppData>>;

/**
 * ferrosoup extension: one room over several worker threads. The result has a Router's API;
 * transports are spread over one router per worker and producers are piped in memory to where
 * they are consumed.
 */
export declare function createRouterGroup<RouterAppData extends types.AppData = types.AppData>(options: {
	workers: types.Worker[];
	mediaCodecs?: types.RouterRtpCodecCapability[];
	appData?: RouterAppData;
	keyFrameCache?: types.KeyFrameCacheOptions | false;
}): Promise<types.Router<RouterAppData> & { readonly routers: types.Router[] }>;

export declare function getSupportedRtpCapabilities(): types.RouterRtpCapabilities;

export declare function parseScalabilityMode(scalabilityMode?: string): types.ScalabilityMode;

export declare namespace errors {
	class UnsupportedError extends Error {
		constructor(message: string);
	}

	class InvalidStateError extends Error {
		constructor(message: string);
	}

	class WorkerClosedError extends Error {
		constructor(message: string);
	}

	class NotFoundError extends Error {
		constructor(message: string);
	}
}

export declare namespace ortc {
	function generateRouterRtpCapabilities(
		mediaCodecs?: types.RouterRtpCodecCapability[]
	): types.RtpCapabilities;

	function canConsume(consumableParams: types.RtpParameters, caps: types.RtpCapabilities): boolean;

	// Both throw on invalid input and may fill in defaults in place.
	function validateAndNormalizeRtpCapabilities(
		caps: types.RtpCapabilities | types.RouterRtpCapabilities
	): void;

	function validateAndNormalizeRtpParameters(params: types.RtpParameters): void;
}

type EventMap = Record<string, any[]>;

export declare namespace extras {
	// EventEmitter whose event names and listener arguments are typed by E.
	class EnhancedEventEmitter<
		E extends EventMap = EventMap,
		BuiltInEvents extends EventMap = { listenererror: [keyof E, Error] },
		E2 extends EventMap = E & BuiltInEvents,
	> extends EventEmitter {
		constructor();

		emit<K extends keyof E2 & string>(eventName: K, ...args: E2[K]): boolean;
		// Like emit(), but a throwing listener is reported via 'listenererror'.
		safeEmit<K extends keyof E2 & string>(eventName: K, ...args: E2[K]): boolean;
		on<K extends keyof E2 & string>(eventName: K, listener: (...args: E2[K]) => void): this;
		off<K extends keyof E2 & string>(eventName: K, listener: (...args: E2[K]) => void): this;
		addListener<K extends keyof E2 & string>(eventName: K, listener: (...args: E2[K]) => void): this;
		prependListener<K extends keyof E2 & string>(eventName: K, listener: (...args: E2[K]) => void): this;
		once<K extends keyof E2 & string>(eventName: K, listener: (...args: E2[K]) => void): this;
		prependOnceListener<K extends keyof E2 & string>(eventName: K, listener: (...args: E2[K]) => void): this;
		removeListener<K extends keyof E2 & string>(eventName: K, listener: (...args: E2[K]) => void): this;
		removeAllListeners<K extends keyof E2 & string>(eventName?: K): this;
		listenerCount<K extends keyof E2 & string>(eventName: K): number;
		listeners<K extends keyof E2 & string>(eventName: K): ((...args: any[]) => void)[];
		rawListeners<K extends keyof E2 & string>(eventName: K): ((...args: any[]) => void)[];
	}

	// Promise-returning wait for one event, typed like events.once().
	function enhancedOnce<E extends EventMap = EventMap>(
		emitter: EnhancedEventEmitter<E>,
		eventName: keyof E & string,
		options?: any
	): Promise<any[]>;
}

/* ------------------------------------------------------------------------ */
/* Helpers that are not part of the public type list                         */
/* ------------------------------------------------------------------------ */

type OnlyFirst<T, U> = { [P in keyof T]: T[P] } & { [P in keyof U]?: never };

type WebRtcTransportOptionsBase<WebRtcTransportAppData> = {
	enableUdp?: boolean;
	enableTcp?: boolean;
	preferUdp?: boolean;
	preferTcp?: boolean;
	iceConsentTimeout?: number;
	initialAvailableOutgoingBitrate?: number;
	enableSctp?: boolean;
	maxSendMessageSize?: number;
	maxReceiveMessageSize?: number;
	sctpSendBufferSize?: number;
	sctpPerStreamSendQueueLimit?: number;
	sctpMaxReceiverWindowBufferSize?: number;
	sctpDefaultStreamBufferedAmountLowThreshold?: number;
	appData?: WebRtcTransportAppData;
};

type WebRtcTransportListenInfos = { listenInfos: types.TransportListenInfo[] };
type WebRtcTransportListenIps = { listenIps: (types.TransportListenIp | string)[]; port?: number };
type WebRtcTransportListenServer = { webRtcServer: types.WebRtcServer };
type WebRtcTransportListen = types.Either<
	types.Either<WebRtcTransportListenInfos, WebRtcTransportListenIps>,
	WebRtcTransportListenServer
>;

type PlainTransportListen = types.Either<
	{ listenInfo: types.TransportListenInfo; rtcpListenInfo?: types.TransportListenInfo },
	{ listenIp: types.TransportListenIp | string; port?: number }
>;

type PipeTransportListen = types.Either<
	{ listenInfo: types.TransportListenInfo },
	{ listenIp: types.TransportListenIp | string; port?: number }
>;

type PipeToRouterListen = types.Either<
	{ listenInfo: types.TransportListenInfo },
	{ listenIp?: types.TransportListenIp | string }
>;

type IdKey<K, V> = { key: K; value: V };
type IdKeys<K, V> = { key: K; values: V[] };

/* ------------------------------------------------------------------------ */
/* Public types                                                              */
/* ------------------------------------------------------------------------ */

export declare namespace types {
	/* ---- generic ---- */

	type AppData = { [key: string]: unknown };

	// Exactly one of the two shapes, never a mix of both.
	type Either<T, U> = OnlyFirst<T, U> | OnlyFirst<U, T>;

	type UnsupportedError = errors.UnsupportedError;
	type InvalidStateError = errors.InvalidStateError;
	type WorkerClosedError = errors.WorkerClosedError;
	type NotFoundError = errors.NotFoundError;

	/* ---- module level ---- */

	type ObserverEvents = { newworker: [Worker] };

	type Observer = extras.EnhancedEventEmitter<ObserverEvents>;

	type LogEventListeners = {
		ondebug?: (namespace: string, log: string) => void;
		onwarn?: (namespace: string, log: string) => void;
		onerror?: (namespace: string, log: string, error?: Error) => void;
	};

	interface Index {
		version: string;
		observer: extras.EnhancedEventEmitter<ObserverEvents>;
		workerBin: string;
		setLogEventListeners: (listeners?: LogEventListeners) => void;
		createWorker: <WorkerAppData extends AppData = AppData>(
			options?: WorkerSettings<WorkerAppData>
		) => Promise<Worker<WorkerAppData>>;
		getSupportedRtpCapabilities: () => RouterRtpCapabilities;
		parseScalabilityMode: (scalabilityMode?: string) => ScalabilityMode;
	}

	/* ---- RTP parameters and capabilities ---- */

	type MediaKind = 'audio' | 'video';

	type RtpCapabilities = {
		codecs?: RtpCodecCapability[];
		headerExtensions?: RtpHeaderExtension[];
	};

	type RouterRtpCapabilities = Omit<RtpCapabilities, 'codecs'> & {
		codecs?: RouterRtpCodecCapability[];
	};

	type RtpCodecCapability = {
		kind: MediaKind;
		mimeType: string;
		preferredPayloadType: number;
		clockRate: number;
		channels?: number;
		parameters?: Record<string, unknown>;
		rtcpFeedback?: RtcpFeedback[];
	};

	// Same as RtpCodecCapability, but the payload type may be left to the router.
	type RouterRtpCodecCapability = Omit<RtpCodecCapability, 'preferredPayloadType'> & {
		preferredPayloadType?: number;
	};

	type RtpHeaderExtensionDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

	type RtpHeaderExtension = {
		kind: MediaKind;
		uri: RtpHeaderExtensionUri;
		preferredId: number;
		preferredEncrypt?: boolean;
		direction?: RtpHeaderExtensionDirection;
	};

	type RtpParameters = {
		mid?: string;
		codecs: RtpCodecParameters[];
		headerExtensions?: RtpHeaderExtensionParameters[];
		encodings?: RtpEncodingParameters[];
		rtcp?: RtcpParameters;
		msid?: string;
	};

	type RtpCodecParameters = {
		mimeType: string;
		payloadType: number;
		clockRate: number;
		channels?: number;
		parameters?: Record<string, unknown>;
		rtcpFeedback?: RtcpFeedback[];
	};

	type RtcpFeedback = {
		type: string;
		parameter?: string;
	};

	type RtpEncodingParameters = {
		ssrc?: number;
		rid?: string;
		codecPayloadType?: number;
		rtx?: { ssrc: number };
		dtx?: boolean;
		scalabilityMode?: string;
		maxBitrate?: number;
	};

	type RtpHeaderExtensionUri =
		| 'urn:ietf:params:rtp-hdrext:sdes:mid'
		| 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id'
		| 'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id'
		| 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time'
		| 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01'
		| 'urn:ietf:params:rtp-hdrext:ssrc-audio-level'
		| 'https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension'
		| 'urn:3gpp:video-orientation'
		| 'http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time'
		| 'urn:ietf:params:rtp-hdrext:toffset'
		| 'http://www.webrtc.org/experiments/rtp-hdrext/playout-delay'
		| 'urn:mediasoup:params:rtp-hdrext:packet-id';

	type RtpHeaderExtensionParameters = {
		uri: RtpHeaderExtensionUri;
		id: number;
		encrypt?: boolean;
		parameters?: Record<string, unknown>;
	};

	type RtcpParameters = {
		cname?: string;
		reducedSize?: boolean;
	};

	type ScalabilityMode = {
		spatialLayers: number;
		temporalLayers: number;
		ksvc: boolean;
	};

	/* ---- SCTP / SRTP ---- */

	type SctpParameters = {
		port: number;
		maxSendMessageSize: number;
		maxReceiveMessageSize: number;
		sendBufferSize: number;
		perStreamSendQueueLimit: number;
		maxReceiverWindowBufferSize: number;
		isDataChannel: boolean;
		OS: number;
		MIS: number;
		maxMessageSize: number;
	};

	type SctpNegotiatedCapabilities = {
		negotiatedMaxOutboundStreams: number;
		negotiatedMaxInboundStreams: number;
	};

	type SctpStreamParameters = {
		streamId: number;
		ordered?: boolean;
		maxPacketLifeTime?: number;
		maxRetransmits?: number;
	};

	// Not exported by mediasoup 3.27 itself (they come from mediasoup-client
	// and older mediasoup 3 releases); kept for code that still names them.
	type NumSctpStreams = {
		OS: number;
		MIS: number;
	};

	type SctpCapabilities = {
		numStreams: NumSctpStreams;
	};

	type SrtpCryptoSuite =
		| 'AEAD_AES_256_GCM'
		| 'AEAD_AES_128_GCM'
		| 'AES_CM_128_HMAC_SHA1_80'
		| 'AES_CM_128_HMAC_SHA1_32';

	type SrtpParameters = {
		cryptoSuite: SrtpCryptoSuite;
		keyBase64: string;
	};

	/* ---- RTP stream stats ---- */

	type BaseRtpStreamStats = {
		timestamp: number;
		ssrc: number;
		rtxSsrc?: number;
		rid?: string;
		kind: string;
		mimeType: string;
		packetsLost: number;
		fractionLost: number;
		jitter: number;
		packetsDiscarded: number;
		packetsRetransmitted: number;
		packetsRepaired: number;
		nackCount: number;
		nackPacketCount: number;
		pliCount: number;
		firCount: number;
		roundTripTime?: number;
		rtxPacketsDiscarded?: number;
		score: number;
	};

	type BitrateByLayer = { [key: string]: number };

	type RtpStreamRecvStats = BaseRtpStreamStats & {
		type: string;
		packetCount: number;
		byteCount: number;
		bitrate: number;
		bitrateByLayer: BitrateByLayer;
	};

	type RtpStreamSendStats = BaseRtpStreamStats & {
		type: string;
		packetCount: number;
		byteCount: number;
		bitrate: number;
	};

	/* ---- Worker ---- */

	type WorkerLogLevel = 'debug' | 'warn' | 'error' | 'none';

	type WorkerLogTag =
		| 'info'
		| 'ice'
		| 'dtls'
		| 'rtp'
		| 'srtp'
		| 'rtcp'
		| 'rtx'
		| 'bwe'
		| 'score'
		| 'simulcast'
		| 'svc'
		| 'sctp'
		| 'message';

	type WorkerSettings<WorkerAppData extends AppData = AppData> = {
		logLevel?: WorkerLogLevel;
		logTags?: WorkerLogTag[];
		/** @deprecated prefer TransportListenInfo.portRange */
		rtcMinPort?: number;
		/** @deprecated prefer TransportListenInfo.portRange */
		rtcMaxPort?: number;
		dtlsCertificateFile?: string;
		dtlsPrivateKeyFile?: string;
		workerBin?: string;
		libwebrtcFieldTrials?: string;
		appData?: WorkerAppData;
	};

	type WorkerUpdateableSettings<T extends AppData = AppData> = Pick<
		WorkerSettings<T>,
		'logLevel' | 'logTags'
	>;

	// Fields of libuv's uv_rusage_t (times in ms).
	type WorkerResourceUsage = {
		ru_utime: number;
		ru_stime: number;
		ru_maxrss: number;
		ru_ixrss: number;
		ru_idrss: number;
		ru_isrss: number;
		ru_minflt: number;
		ru_majflt: number;
		ru_nswap: number;
		ru_inblock: number;
		ru_oublock: number;
		ru_msgsnd: number;
		ru_msgrcv: number;
		ru_nsignals: number;
		ru_nvcsw: number;
		ru_nivcsw: number;
	};

	type WorkerDump = {
		pid: number;
		webRtcServerIds: string[];
		routerIds: string[];
		channelMessageHandlers: {
			channelRequestHandlers: string[];
			channelNotificationHandlers: string[];
		};
	};

	type WorkerEvents = {
		died: [Error];
		subprocessclose: [];
	};

	type WorkerObserverEvents = {
		close: [];
		newwebrtcserver: [WebRtcServer];
		newrouter: [Router];
	};

	type WorkerObserver = extras.EnhancedEventEmitter<WorkerObserverEvents>;

	interface Worker<WorkerAppData extends AppData = AppData>
		extends extras.EnhancedEventEmitter<WorkerEvents> {
		get pid(): number;
		get closed(): boolean;
		get died(): boolean;
		get subprocessClosed(): boolean;
		get appData(): WorkerAppData;
		set appData(appData: WorkerAppData);
		get observer(): WorkerObserver;

		close(): void;
		dump(): Promise<WorkerDump>;
		getResourceUsage(): Promise<WorkerResourceUsage>;
		updateSettings(options?: WorkerUpdateableSettings<WorkerAppData>): Promise<void>;
		createWebRtcServer<WebRtcServerAppData extends AppData = AppData>(
			options: WebRtcServerOptions<WebRtcServerAppData>
		): Promise<WebRtcServer<WebRtcServerAppData>>;
		createRouter<RouterAppData extends AppData = AppData>(
			options?: RouterOptions<RouterAppData>
		): Promise<Router<RouterAppData>>;
	}

	/* ---- WebRtcServer ---- */

	type WebRtcServerOptions<WebRtcServerAppData extends AppData = AppData> = {
		listenInfos: TransportListenInfo[];
		appData?: WebRtcServerAppData;
	};

	/** @deprecated use TransportListenInfo */
	type WebRtcServerListenInfo = TransportListenInfo;

	type IpPort = {
		ip: string;
		port: number;
	};

	type IceUserNameFragment = {
		localIceUsernameFragment: string;
		webRtcTransportId: string;
	};

	type WebRtcServerDump = {
		id: string;
		udpSockets: IpPort[];
		tcpServers: IpPort[];
		webRtcTransportIds: string[];
		localIceUsernameFragments: IceUserNameFragment[];
		/** ferrosoup: datagrams its sockets dropped, by reason. */
		drops?: { unknownUfrag: number; unknownTuple: number; overLimit: number };
	};

	type WebRtcServerEvents = {
		workerclose: [];
	};

	type WebRtcServerObserverEvents = {
		close: [];
		webrtctransporthandled: [WebRtcTransport];
		webrtctransportunhandled: [WebRtcTransport];
	};

	type WebRtcServerObserver = extras.EnhancedEventEmitter<WebRtcServerObserverEvents>;

	interface WebRtcServer<WebRtcServerAppData extends AppData = AppData>
		extends extras.EnhancedEventEmitter<WebRtcServerEvents> {
		get id(): string;
		get closed(): boolean;
		get appData(): WebRtcServerAppData;
		set appData(appData: WebRtcServerAppData);
		get observer(): WebRtcServerObserver;

		close(): void;
		// Internal hooks (present in mediasoup's interface too).
		workerClosed(): void;
		dump(): Promise<WebRtcServerDump>;
		handleWebRtcTransport(webRtcTransport: WebRtcTransport): void;
	}

	/* ---- Router ---- */

	type RouterOptions<RouterAppData extends AppData = AppData> = {
		mediaCodecs?: RouterRtpCodecCapability[];
		appData?: RouterAppData;
		/** ferrosoup: default key frame cache of this router's video producers (on by default). */
		keyFrameCache?: KeyFrameCacheOptions | false;
	};

	type PipeToRouterOptions = {
		producerId?: string;
		dataProducerId?: string;
		router: Router;
		keepId?: boolean;
		enableSctp?: boolean;
		maxSendMessageSize?: number;
		maxReceiveMessageSize?: number;
		sctpSendBufferSize?: number;
		sctpPerStreamSendQueueLimit?: number;
		sctpMaxReceiverWindowBufferSize?: number;
		sctpDefaultStreamBufferedAmountLowThreshold?: number;
		enableRtx?: boolean;
		enableSrtp?: boolean;
	} & PipeToRouterListen;

	type PipeToRouterResult = {
		pipeConsumer?: Consumer;
		pipeProducer?: Producer;
		pipeDataConsumer?: DataConsumer;
		pipeDataProducer?: DataProducer;
	};

	type PipeTransportPair = { [key: string]: PipeTransport };

	type RouterDump = {
		id: string;
		transportIds: string[];
		rtpObserverIds: string[];
		mapProducerIdConsumerIds: IdKeys<string, string>[];
		mapConsumerIdProducerId: IdKey<string, string>[];
		mapProducerIdObserverIds: IdKeys<string, string>[];
		mapDataProducerIdDataConsumerIds: IdKeys<string, string>[];
		mapDataConsumerIdDataProducerId: IdKey<string, string>[];
	};

	type RouterEvents = {
		workerclose: [];
	};

	type RouterObserverEvents = {
		close: [];
		newtransport: [Transport];
		newrtpobserver: [RtpObserver];
	};

	type RouterObserver = extras.EnhancedEventEmitter<RouterObserverEvents>;

	interface Router<RouterAppData extends AppData = AppData>
		extends extras.EnhancedEventEmitter<RouterEvents> {
		get id(): string;
		get closed(): boolean;
		get rtpCapabilities(): RtpCapabilities;
		get appData(): RouterAppData;
		set appData(appData: RouterAppData);
		get observer(): RouterObserver;

		close(): void;
		// Internal hook (present in mediasoup's interface too).
		workerClosed(): void;
		dump(): Promise<RouterDump>;
		createWebRtcTransport<WebRtcTransportAppData extends AppData = AppData>(
			options: WebRtcTransportOptions<WebRtcTransportAppData>
		): Promise<WebRtcTransport<WebRtcTransportAppData>>;
		createPlainTransport<PlainTransportAppData extends AppData = AppData>(
			options: PlainTransportOptions<PlainTransportAppData>
		): Promise<PlainTransport<PlainTransportAppData>>;
		createPipeTransport<PipeTransportAppData extends AppData = AppData>(
			options: PipeTransportOptions<PipeTransportAppData>
		): Promise<PipeTransport<PipeTransportAppData>>;
		createDirectTransport<DirectTransportAppData extends AppData = AppData>(
			options?: DirectTransportOptions<DirectTransportAppData>
		): Promise<DirectTransport<DirectTransportAppData>>;
		pipeToRouter(options: PipeToRouterOptions): Promise<PipeToRouterResult>;
		createActiveSpeakerObserver<ActiveSpeakerObserverAppData extends AppData = AppData>(
			options?: ActiveSpeakerObserverOptions<ActiveSpeakerObserverAppData>
		): Promise<ActiveSpeakerObserver<ActiveSpeakerObserverAppData>>;
		createAudioLevelObserver<AudioLevelObserverAppData extends AppData = AppData>(
			options?: AudioLevelObserverOptions<AudioLevelObserverAppData>
		): Promise<AudioLevelObserver<AudioLevelObserverAppData>>;
		canConsume(options: { producerId: string; rtpCapabilities: RtpCapabilities }): boolean;
		updateMediaCodecs(mediaCodecs: RouterRtpCodecCapability[]): void;
	}

	/* ---- Transport (common) ---- */

	type TransportType = 'webrtc' | 'plain' | 'pipe' | 'direct';

	type TransportProtocol = 'udp' | 'tcp';

	type TransportPortRange = {
		min: number;
		max: number;
	};

	type TransportSocketFlags = {
		ipv6Only?: boolean;
		udpReusePort?: boolean;
	};

	type TransportListenInfo = {
		protocol: TransportProtocol;
		ip: string;
		/** @deprecated use announcedAddress */
		announcedIp?: string;
		announcedAddress?: string;
		exposeInternalIp?: boolean;
		port?: number;
		portRange?: TransportPortRange;
		flags?: TransportSocketFlags;
		sendBufferSize?: number;
		recvBufferSize?: number;
	};

	/** @deprecated use TransportListenInfo */
	type TransportListenIp = {
		ip: string;
		announcedIp?: string;
	};

	type TransportTuple = {
		localIp: string;
		localAddress: string;
		localPort: number;
		remoteIp?: string;
		remotePort?: number;
		protocol: TransportProtocol;
	};

	type SctpState = 'new' | 'connecting' | 'connected' | 'failed' | 'closed';

	type RtpListenerDump = {
		ssrcTable: IdKey<number, string>[];
		midTable: IdKey<number, string>[];
		ridTable: IdKey<number, string>[];
	};

	type SctpListenerDump = {
		streamIdTable: IdKey<number, string>[];
	};

	type RecvRtpHeaderExtensions = {
		mid?: number;
		rid?: number;
		rrid?: number;
		absSendTime?: number;
		transportWideCc01?: number;
	};

	type BaseTransportDump = {
		id: string;
		producerIds: string[];
		consumerIds: string[];
		mapSsrcConsumerId: IdKey<number, string>[];
		mapRtxSsrcConsumerId: IdKey<number, string>[];
		recvRtpHeaderExtensions: RecvRtpHeaderExtensions;
		rtpListener: RtpListenerDump;
		maxSendMessageSize: number;
		maxReceiveMessageSize: number;
		dataProducerIds: string[];
		dataConsumerIds: string[];
		sctpParameters?: SctpParameters;
		sctpState?: SctpState;
		sctpNegotiatedCapabilities?: SctpNegotiatedCapabilities;
		sctpListener?: SctpListenerDump;
		traceEventTypes?: string[];
	};

	type BaseTransportStats = {
		transportId: string;
		timestamp: number;
		sctpState?: SctpState;
		bytesReceived: number;
		recvBitrate: number;
		bytesSent: number;
		sendBitrate: number;
		rtpBytesReceived: number;
		rtpRecvBitrate: number;
		rtpBytesSent: number;
		rtpSendBitrate: number;
		rtxBytesReceived: number;
		rtxRecvBitrate: number;
		rtxBytesSent: number;
		rtxSendBitrate: number;
		probationBytesSent: number;
		probationSendBitrate: number;
		availableOutgoingBitrate?: number;
		availableIncomingBitrate?: number;
		maxIncomingBitrate?: number;
		maxOutgoingBitrate?: number;
		minOutgoingBitrate?: number;
		rtpPacketLossReceived?: number;
		rtpPacketLossSent?: number;
	};

	type TransportTraceEventType = 'probation' | 'bwe';

	type TransportTraceEventData = {
		type: TransportTraceEventType;
		timestamp: number;
		direction: 'in' | 'out';
		info: unknown;
	};

	type TransportEvents = {
		routerclose: [];
		listenserverclose: [];
		trace: [TransportTraceEventData];
	};

	type TransportObserverEvents = {
		close: [];
		newproducer: [Producer];
		newconsumer: [Consumer];
		newdataproducer: [DataProducer];
		newdataconsumer: [DataConsumer];
		trace: [TransportTraceEventData];
	};

	type TransportObserver = extras.EnhancedEventEmitter<TransportObserverEvents>;

	interface Transport<
		TransportAppData extends AppData = AppData,
		Events extends TransportEvents = TransportEvents,
		Observer extends TransportObserver = TransportObserver,
	> extends extras.EnhancedEventEmitter<Events> {
		get id(): string;
		get closed(): boolean;
		get type(): TransportType;
		get appData(): TransportAppData;
		set appData(appData: TransportAppData);
		get observer(): Observer;

		close(): void;
		// Internal hooks (present in mediasoup's interface too).
		routerClosed(): void;
		listenServerClosed(): void;
		dump(): Promise<unknown>;
		getStats(): Promise<unknown[]>;
		connect(params: unknown): Promise<void>;
		setMaxIncomingBitrate(bitrate: number): Promise<void>;
		setMaxOutgoingBitrate(bitrate: number): Promise<void>;
		setMinOutgoingBitrate(bitrate: number): Promise<void>;
		produce<ProducerAppData extends AppData = AppData>(
			options: ProducerOptions<ProducerAppData>
		): Promise<Producer<ProducerAppData>>;
		consume<ConsumerAppData extends AppData = AppData>(
			options: ConsumerOptions<ConsumerAppData>
		): Promise<Consumer<ConsumerAppData>>;
		produceData<DataProducerAppData extends AppData = AppData>(
			options?: DataProducerOptions<DataProducerAppData>
		): Promise<DataProducer<DataProducerAppData>>;
		consumeData<DataConsumerAppData extends AppData = AppData>(
			options: DataConsumerOptions<DataConsumerAppData>
		): Promise<DataConsumer<DataConsumerAppData>>;
		enableTraceEvent(types?: TransportTraceEventType[]): Promise<void>;
	}

	/* ---- WebRtcTransport ---- */

	type WebRtcTransportOptions<WebRtcTransportAppData extends AppData = AppData> =
		WebRtcTransportOptionsBase<WebRtcTransportAppData> & WebRtcTransportListen;

	type IceParameters = {
		usernameFragment: string;
		password: string;
		iceLite?: boolean;
	};

	type IceCandidateType = 'host';

	type IceCandidateTcpType = 'passive';

	type IceCandidate = {
		foundation: string;
		priority: number;
		ip: string;
		address: string;
		protocol: TransportProtocol;
		port: number;
		type: IceCandidateType;
		tcpType?: IceCandidateTcpType;
	};

	type IceRole = 'controlled' | 'controlling';

	type IceState = 'new' | 'connected' | 'completed' | 'disconnected' | 'closed';

	type FingerprintAlgorithm = 'sha-1' | 'sha-224' | 'sha-256' | 'sha-384' | 'sha-512';

	type DtlsFingerprint = {
		algorithm: FingerprintAlgorithm;
		value: string;
	};

	type DtlsRole = 'auto' | 'client' | 'server';

	type DtlsState = 'new' | 'connecting' | 'connected' | 'failed' | 'closed';

	type DtlsParameters = {
		role?: DtlsRole;
		fingerprints: DtlsFingerprint[];
	};

	type WebRtcTransportDump = BaseTransportDump & {
		iceRole: 'controlled';
		iceParameters: IceParameters;
		iceCandidates: IceCandidate[];
		iceState: IceState;
		iceSelectedTuple?: TransportTuple;
		dtlsParameters: DtlsParameters;
		dtlsState: DtlsState;
		dtlsRemoteCert?: string;
	};

	type WebRtcTransportStat = BaseTransportStats & {
		type: string;
		iceRole: string;
		iceState: IceState;
		iceSelectedTuple?: TransportTuple;
		dtlsState: DtlsState;
	};

	type WebRtcTransportEvents = TransportEvents & {
		icestatechange: [IceState];
		iceselectedtuplechange: [TransportTuple];
		dtlsstatechange: [DtlsState];
		sctpstatechange: [SctpState];
	};

	type WebRtcTransportObserverEvents = TransportObserverEvents & {
		icestatechange: [IceState];
		iceselectedtuplechange: [TransportTuple];
		dtlsstatechange: [DtlsState];
		sctpstatechange: [SctpState];
	};

	type WebRtcTransportObserver = extras.EnhancedEventEmitter<WebRtcTransportObserverEvents>;

	interface WebRtcTransport<WebRtcTransportAppData extends AppData = AppData>
		extends Transport<WebRtcTransportAppData, WebRtcTransportEvents, WebRtcTransportObserver> {
		get type(): 'webrtc';
		get observer(): WebRtcTransportObserver;
		get iceRole(): 'controlled';
		get iceParameters(): IceParameters;
		get iceCandidates(): IceCandidate[];
		get iceState(): IceState;
		get iceSelectedTuple(): TransportTuple | undefined;
		get dtlsParameters(): DtlsParameters;
		get dtlsState(): DtlsState;
		get dtlsRemoteCert(): string | undefined;
		get sctpParameters(): SctpParameters | undefined;
		get sctpState(): SctpState | undefined;
		get sctpNegotiatedCapabilities(): SctpNegotiatedCapabilities | undefined;

		dump(): Promise<WebRtcTransportDump>;
		getStats(): Promise<WebRtcTransportStat[]>;
		connect(params: { dtlsParameters: DtlsParameters }): Promise<void>;
		restartIce(): Promise<IceParameters>;
	}

	/* ---- PlainTransport ---- */

	type PlainTransportOptions<PlainTransportAppData extends AppData = AppData> = {
		rtcpMux?: boolean;
		comedia?: boolean;
		enableSctp?: boolean;
		maxSendMessageSize?: number;
		maxReceiveMessageSize?: number;
		sctpSendBufferSize?: number;
		sctpPerStreamSendQueueLimit?: number;
		sctpMaxReceiverWindowBufferSize?: number;
		sctpDefaultStreamBufferedAmountLowThreshold?: number;
		enableSrtp?: boolean;
		srtpCryptoSuite?: SrtpCryptoSuite;
		appData?: PlainTransportAppData;
	} & PlainTransportListen;

	type PlainTransportDump = BaseTransportDump & {
		rtcpMux: boolean;
		comedia: boolean;
		tuple: TransportTuple;
		rtcpTuple?: TransportTuple;
		srtpParameters?: SrtpParameters;
	};

	type PlainTransportStat = BaseTransportStats & {
		type: string;
		rtcpMux: boolean;
		comedia: boolean;
		tuple: TransportTuple;
		rtcpTuple?: TransportTuple;
	};

	type PlainTransportEvents = TransportEvents & {
		tuple: [TransportTuple];
		rtcptuple: [TransportTuple];
		sctpstatechange: [SctpState];
	};

	type PlainTransportObserverEvents = TransportObserverEvents & {
		tuple: [TransportTuple];
		rtcptuple: [TransportTuple];
		sctpstatechange: [SctpState];
	};

	type PlainTransportObserver = extras.EnhancedEventEmitter<PlainTransportObserverEvents>;

	interface PlainTransport<PlainTransportAppData extends AppData = AppData>
		extends Transport<PlainTransportAppData, PlainTransportEvents, PlainTransportObserver> {
		get type(): 'plain';
		get observer(): PlainTransportObserver;
		get tuple(): TransportTuple;
		get rtcpTuple(): TransportTuple | undefined;
		get sctpParameters(): SctpParameters | undefined;
		get sctpState(): SctpState | undefined;
		get sctpNegotiatedCapabilities(): SctpNegotiatedCapabilities | undefined;
		get srtpParameters(): SrtpParameters | undefined;

		dump(): Promise<PlainTransportDump>;
		getStats(): Promise<PlainTransportStat[]>;
		connect(params: {
			ip?: string;
			port?: number;
			rtcpPort?: number;
			srtpParameters?: SrtpParameters;
		}): Promise<void>;
	}

	/* ---- PipeTransport ---- */

	type PipeTransportOptions<PipeTransportAppData extends AppData = AppData> = {
		enableSctp?: boolean;
		maxSendMessageSize?: number;
		maxReceiveMessageSize?: number;
		sctpSendBufferSize?: number;
		sctpPerStreamSendQueueLimit?: number;
		sctpMaxReceiverWindowBufferSize?: number;
		sctpDefaultStreamBufferedAmountLowThreshold?: number;
		enableRtx?: boolean;
		enableSrtp?: boolean;
		appData?: PipeTransportAppData;
	} & PipeTransportListen;

	type PipeConsumerOptions<ConsumerAppData extends AppData = AppData> = {
		producerId: string;
		appData?: ConsumerAppData;
	};

	type PipeTransportDump = BaseTransportDump & {
		tuple: TransportTuple;
		rtx: boolean;
		srtpParameters?: SrtpParameters;
	};

	type PipeTransportStat = BaseTransportStats & {
		type: string;
		tuple: TransportTuple;
	};

	type PipeTransportEvents = TransportEvents & {
		sctpstatechange: [SctpState];
	};

	type PipeTransportObserverEvents = TransportObserverEvents & {
		sctpstatechange: [SctpState];
	};

	type PipeTransportObserver = extras.EnhancedEventEmitter<PipeTransportObserverEvents>;

	interface PipeTransport<PipeTransportAppData extends AppData = AppData>
		extends Transport<PipeTransportAppData, PipeTransportEvents, PipeTransportObserver> {
		get type(): 'pipe';
		get observer(): PipeTransportObserver;
		get tuple(): TransportTuple;
		get sctpParameters(): SctpParameters | undefined;
		get sctpState(): SctpState | undefined;
		get sctpNegotiatedCapabilities(): SctpNegotiatedCapabilities | undefined;
		get srtpParameters(): SrtpParameters | undefined;

		dump(): Promise<PipeTransportDump>;
		getStats(): Promise<PipeTransportStat[]>;
		connect(params: { ip: string; port: number; srtpParameters?: SrtpParameters }): Promise<void>;
		consume<ConsumerAppData extends AppData = AppData>(
			options: PipeConsumerOptions<ConsumerAppData>
		): Promise<Consumer<ConsumerAppData>>;
	}

	/* ---- DirectTransport ---- */

	type DirectTransportOptions<DirectTransportAppData extends AppData = AppData> = {
		maxSendMessageSize?: number;
		maxReceiveMessageSize?: number;
		appData?: DirectTransportAppData;
	};

	type DirectTransportDump = BaseTransportDump;

	type DirectTransportStat = BaseTransportStats & {
		type: string;
	};

	type DirectTransportEvents = TransportEvents & {
		rtcp: [Buffer];
	};

	type DirectTransportObserverEvents = TransportObserverEvents & {
		rtcp: [Buffer];
	};

	type DirectTransportObserver = extras.EnhancedEventEmitter<DirectTransportObserverEvents>;

	interface DirectTransport<DirectTransportAppData extends AppData = AppData>
		extends Transport<DirectTransportAppData, DirectTransportEvents, DirectTransportObserver> {
		get type(): 'direct';
		get observer(): DirectTransportObserver;

		dump(): Promise<DirectTransportDump>;
		getStats(): Promise<DirectTransportStat[]>;
		connect(): Promise<void>;
		sendRtcp(rtcpPacket: Buffer): void;
	}

	/* ---- Producer ---- */

	type ProducerOptions<ProducerAppData extends AppData = AppData> = {
		id?: string;
		kind: MediaKind;
		rtpParameters: RtpParameters;
		paused?: boolean;
		keyFrameRequestDelay?: number;
		enableMediasoupPacketIdHeaderExtension?: boolean;
		/**
		 * ferrosoup: keep this video producer's latest key frame and what followed it (within
		 * the bounds) so new viewers start at once; `false` turns it off. Default: the router's.
		 */
		keyFrameCache?: KeyFrameCacheOptions | false;
		appData?: ProducerAppData;
	};

	/** ferrosoup: bounds of a video producer's key frame cache (defaults 2000 ms, 4 MiB). */
	type KeyFrameCacheOptions = {
		maxDurationMs?: number;
		maxBytes?: number;
	};

	type ProducerType = 'simple' | 'simulcast' | 'svc';

	type ProducerScore = {
		encodingIdx: number;
		ssrc: number;
		rid?: string;
		score: number;
	};

	type ProducerVideoOrientation = {
		camera: boolean;
		flip: boolean;
		rotation: number;
	};

	type ProducerDump = {
		id: string;
		kind: string;
		type: ProducerType;
		rtpParameters: RtpParameters;
		rtpMapping: unknown;
		rtpStreams: unknown;
		traceEventTypes: string[];
		paused: boolean;
	};

	type ProducerStat = RtpStreamRecvStats;

	type ProducerTraceEventType = 'rtp' | 'keyframe' | 'nack' | 'pli' | 'fir' | 'sr';

	type ProducerTraceEventData = {
		type: ProducerTraceEventType;
		timestamp: number;
		direction: 'in' | 'out';
		info: Record<string, unknown>;
	};

	type ProducerEvents = {
		transportclose: [];
		score: [ProducerScore[]];
		videoorientationchange: [ProducerVideoOrientation];
		trace: [ProducerTraceEventData];
	};

	type ProducerObserverEvents = {
		close: [];
		pause: [];
		resume: [];
		score: [ProducerScore[]];
		videoorientationchange: [ProducerVideoOrientation];
		trace: [ProducerTraceEventData];
	};

	type ProducerObserver = extras.EnhancedEventEmitter<ProducerObserverEvents>;

	interface Producer<ProducerAppData extends AppData = AppData>
		extends extras.EnhancedEventEmitter<ProducerEvents> {
		get id(): string;
		get closed(): boolean;
		get kind(): MediaKind;
		get rtpParameters(): RtpParameters;
		get type(): ProducerType;
		// Internal in mediasoup, but part of its interface.
		get consumableRtpParameters(): RtpParameters;
		get paused(): boolean;
		get score(): ProducerScore[];
		get appData(): ProducerAppData;
		set appData(appData: ProducerAppData);
		get observer(): ProducerObserver;

		close(): void;
		// Internal hook (present in mediasoup's interface too).
		transportClosed(): void;
		dump(): Promise<ProducerDump>;
		getStats(): Promise<ProducerStat[]>;
		pause(): Promise<void>;
		resume(): Promise<void>;
		enableTraceEvent(types?: ProducerTraceEventType[]): Promise<void>;
		send(rtpPacket: Buffer): void;
	}

	/* ---- Consumer ---- */

	type ConsumerOptions<ConsumerAppData extends AppData = AppData> = {
		producerId: string;
		rtpCapabilities: RtpCapabilities;
		paused?: boolean;
		mid?: string;
		preferredLayers?: ConsumerLayers;
		enableRtx?: boolean;
		ignoreDtx?: boolean;
		pipe?: boolean;
		appData?: ConsumerAppData;
	};

	type ConsumerType = 'simple' | 'simulcast' | 'svc' | 'pipe';

	type ConsumerScore = {
		score: number;
		producerScore: number;
		producerScores: number[];
	};

	type ConsumerLayers = {
		spatialLayer: number;
		temporalLayer?: number;
	};

	type RtxStreamParameters = {
		ssrc: number;
		payloadType: number;
		mimeType: string;
		clockRate: number;
		rrid?: string;
		cname: string;
	};

	type RtxStreamDump = {
		params: RtxStreamParameters;
	};

	type RtpStreamParametersDump = {
		encodingIdx: number;
		ssrc: number;
		payloadType: number;
		mimeType: string;
		clockRate: number;
		rid?: string;
		cname: string;
		rtxSsrc?: number;
		rtxPayloadType?: number;
		useNack: boolean;
		usePli: boolean;
		useFir: boolean;
		useInBandFec: boolean;
		useDtx: boolean;
		spatialLayers: number;
		temporalLayers: number;
	};

	type RtpStreamDump = {
		params: RtpStreamParametersDump;
		score: number;
		rtxStream?: RtxStreamDump;
	};

	type BaseConsumerDump = {
		id: string;
		producerId: string;
		kind: MediaKind;
		rtpParameters: RtpParameters;
		consumableRtpEncodings?: RtpEncodingParameters[];
		supportedCodecPayloadTypes: number[];
		traceEventTypes: string[];
		paused: boolean;
		producerPaused: boolean;
		priority: number;
	};

	type SimpleConsumerDump = BaseConsumerDump & {
		type: string;
		rtpStream: RtpStreamDump;
	};

	type SimulcastConsumerDump = BaseConsumerDump & {
		type: string;
		rtpStream: RtpStreamDump;
		preferredSpatialLayer: number;
		targetSpatialLayer: number;
		currentSpatialLayer: number;
		preferredTemporalLayer: number;
		targetTemporalLayer: number;
		currentTemporalLayer: number;
	};

	type SvcConsumerDump = SimulcastConsumerDump;

	type PipeConsumerDump = BaseConsumerDump & {
		type: string;
		rtpStreams: RtpStreamDump[];
	};

	type ConsumerDump = SimpleConsumerDump | SimulcastConsumerDump | SvcConsumerDump | PipeConsumerDump;

	type ConsumerStat = RtpStreamSendStats;

	type ConsumerTraceEventType = 'rtp' | 'keyframe' | 'nack' | 'pli' | 'fir';

	type ConsumerTraceEventData = {
		type: ConsumerTraceEventType;
		timestamp: number;
		direction: 'in' | 'out';
		info: Record<string, unknown>;
	};

	type ConsumerEvents = {
		transportclose: [];
		producerclose: [];
		producerpause: [];
		producerresume: [];
		score: [ConsumerScore];
		layerschange: [ConsumerLayers?];
		trace: [ConsumerTraceEventData];
		rtp: [Buffer];
	};

	type ConsumerObserverEvents = {
		close: [];
		pause: [];
		resume: [];
		score: [ConsumerScore];
		layerschange: [ConsumerLayers?];
		trace: [ConsumerTraceEventData];
	};

	type ConsumerObserver = extras.EnhancedEventEmitter<ConsumerObserverEvents>;

	interface Consumer<ConsumerAppData extends AppData = AppData>
		extends extras.EnhancedEventEmitter<ConsumerEvents> {
		get id(): string;
		get producerId(): string;
		get closed(): boolean;
		get kind(): MediaKind;
		get rtpParameters(): RtpParameters;
		get type(): ConsumerType;
		get paused(): boolean;
		get producerPaused(): boolean;
		get priority(): number;
		get score(): ConsumerScore;
		get preferredLayers(): ConsumerLayers | undefined;
		get currentLayers(): ConsumerLayers | undefined;
		get appData(): ConsumerAppData;
		set appData(appData: ConsumerAppData);
		get observer(): ConsumerObserver;

		close(): void;
		// Internal hook (present in mediasoup's interface too).
		transportClosed(): void;
		dump(): Promise<ConsumerDump>;
		// A pipe consumer also reports the producer-side stream.
		getStats(): Promise<(ConsumerStat | ProducerStat)[]>;
		pause(): Promise<void>;
		resume(): Promise<void>;
		setPreferredLayers(layers: ConsumerLayers): Promise<void>;
		setPriority(priority: number): Promise<void>;
		unsetPriority(): Promise<void>;
		requestKeyFrame(): Promise<void>;
		enableTraceEvent(types?: ConsumerTraceEventType[]): Promise<void>;
	}

	/* ---- DataProducer ---- */

	type DataProducerOptions<DataProducerAppData extends AppData = AppData> = {
		id?: string;
		sctpStreamParameters?: SctpStreamParameters;
		label?: string;
		protocol?: string;
		paused?: boolean;
		appData?: DataProducerAppData;
	};

	type DataProducerType = 'sctp' | 'direct';

	type DataProducerDump = {
		id: string;
		paused: boolean;
		type: DataProducerType;
		sctpStreamParameters?: SctpStreamParameters;
		label: string;
		protocol: string;
	};

	type DataProducerStat = {
		type: string;
		timestamp: number;
		label: string;
		protocol: string;
		messagesReceived: number;
		bytesReceived: number;
	};

	type DataProducerEvents = {
		transportclose: [];
	};

	type DataProducerObserverEvents = {
		close: [];
		pause: [];
		resume: [];
	};

	type DataProducerObserver = extras.EnhancedEventEmitter<DataProducerObserverEvents>;

	interface DataProducer<DataProducerAppData extends AppData = AppData>
		extends extras.EnhancedEventEmitter<DataProducerEvents> {
		get id(): string;
		get closed(): boolean;
		get type(): DataProducerType;
		get sctpStreamParameters(): SctpStreamParameters | undefined;
		get label(): string;
		get protocol(): string;
		get paused(): boolean;
		get appData(): DataProducerAppData;
		set appData(appData: DataProducerAppData);
		get observer(): DataProducerObserver;

		close(): void;
		// Internal hook (present in mediasoup's interface too).
		transportClosed(): void;
		dump(): Promise<DataProducerDump>;
		getStats(): Promise<DataProducerStat[]>;
		pause(): Promise<void>;
		resume(): Promise<void>;
		send(
			message: string | Buffer,
			ppid?: number,
			subchannels?: number[],
			requiredSubchannel?: number,
			ignoredSubchannel?: number
		): void;
	}

	/* ---- DataConsumer ---- */

	type DataConsumerOptions<DataConsumerAppData extends AppData = AppData> = {
		dataProducerId: string;
		ordered?: boolean;
		maxPacketLifeTime?: number;
		maxRetransmits?: number;
		paused?: boolean;
		subchannels?: number[];
		appData?: DataConsumerAppData;
	};

	type DataConsumerType = 'sctp' | 'direct';

	type DataConsumerDump = {
		id: string;
		paused: boolean;
		dataProducerPaused: boolean;
		subchannels: number[];
		dataProducerId: string;
		type: DataConsumerType;
		sctpStreamParameters?: SctpStreamParameters;
		label: string;
		protocol: string;
		bufferedAmount: number;
		bufferedAmountLowThreshold: number;
	};

	type DataConsumerStat = {
		type: string;
		timestamp: number;
		label: string;
		protocol: string;
		messagesSent: number;
		bytesSent: number;
		bufferedAmount: number;
	};

	type DataConsumerEvents = {
		transportclose: [];
		dataproducerclose: [];
		dataproducerpause: [];
		dataproducerresume: [];
		// payload and SCTP PPID
		message: [Buffer, number];
		sctpsendbufferfull: [];
		bufferedamountlow: [number];
	};

	type DataConsumerObserverEvents = {
		close: [];
		pause: [];
		resume: [];
	};

	type DataConsumerObserver = extras.EnhancedEventEmitter<DataConsumerObserverEvents>;

	interface DataConsumer<DataConsumerAppData extends AppData = AppData>
		extends extras.EnhancedEventEmitter<DataConsumerEvents> {
		get id(): string;
		get dataProducerId(): string;
		get closed(): boolean;
		get type(): DataConsumerType;
		get sctpStreamParameters(): SctpStreamParameters | undefined;
		get label(): string;
		get protocol(): string;
		get paused(): boolean;
		get dataProducerPaused(): boolean;
		get subchannels(): number[];
		get appData(): DataConsumerAppData;
		set appData(appData: DataConsumerAppData);
		get observer(): DataConsumerObserver;

		close(): void;
		// Internal hook (present in mediasoup's interface too).
		transportClosed(): void;
		dump(): Promise<DataConsumerDump>;
		getStats(): Promise<DataConsumerStat[]>;
		pause(): Promise<void>;
		resume(): Promise<void>;
		setBufferedAmountLowThreshold(threshold: number): Promise<void>;
		getBufferedAmount(): Promise<number>;
		send(message: string | Buffer, ppid?: number): Promise<number>;
		setSubchannels(subchannels: number[]): Promise<void>;
		addSubchannel(subchannel: number): Promise<void>;
		removeSubchannel(subchannel: number): Promise<void>;
	}

	/* ---- RtpObserver and its two flavours ---- */

	type RtpObserverType = 'audiolevel' | 'activespeaker';

	type RtpObserverEvents = {
		routerclose: [];
	};

	type RtpObserverObserverEvents = {
		close: [];
		pause: [];
		resume: [];
		addproducer: [Producer];
		removeproducer: [Producer];
	};

	type RtpObserverObserver = extras.EnhancedEventEmitter<RtpObserverObserverEvents>;

	interface RtpObserver<
		RtpObserverAppData extends AppData = AppData,
		Events extends RtpObserverEvents = RtpObserverEvents,
		Observer extends RtpObserverObserver = RtpObserverObserver,
	> extends extras.EnhancedEventEmitter<Events> {
		get id(): string;
		get closed(): boolean;
		get type(): RtpObserverType;
		get paused(): boolean;
		get appData(): RtpObserverAppData;
		set appData(appData: RtpObserverAppData);
		get observer(): Observer;

		close(): void;
		// Internal hook (present in mediasoup's interface too).
		routerClosed(): void;
		pause(): Promise<void>;
		resume(): Promise<void>;
		addProducer(options: { producerId: string }): Promise<void>;
		removeProducer(options: { producerId: string }): Promise<void>;
	}

	type ActiveSpeakerObserverOptions<ActiveSpeakerObserverAppData extends AppData = AppData> = {
		interval?: number;
		appData?: ActiveSpeakerObserverAppData;
	};

	type ActiveSpeakerObserverDominantSpeaker = {
		producer: Producer;
	};

	type ActiveSpeakerObserverEvents = RtpObserverEvents & {
		dominantspeaker: [ActiveSpeakerObserverDominantSpeaker];
	};

	type ActiveSpeakerObserverObserverEvents = RtpObserverObserverEvents & {
		dominantspeaker: [ActiveSpeakerObserverDominantSpeaker];
	};

	type ActiveSpeakerObserverObserver =
		extras.EnhancedEventEmitter<ActiveSpeakerObserverObserverEvents>;

	interface ActiveSpeakerObserver<ActiveSpeakerObserverAppData extends AppData = AppData>
		extends RtpObserver<
			ActiveSpeakerObserverAppData,
			ActiveSpeakerObserverEvents,
			ActiveSpeakerObserverObserver
		> {
		get type(): 'activespeaker';
		get observer(): ActiveSpeakerObserverObserver;
	}

	type AudioLevelObserverOptions<AudioLevelObserverAppData extends AppData = AppData> = {
		maxEntries?: number;
		threshold?: number;
		interval?: number;
		appData?: AudioLevelObserverAppData;
	};

	type AudioLevelObserverVolume = {
		producer: Producer;
		volume: number;
	};

	type AudioLevelObserverEvents = RtpObserverEvents & {
		volumes: [AudioLevelObserverVolume[]];
		silence: [];
	};

	type AudioLevelObserverObserverEvents = RtpObserverObserverEvents & {
		volumes: [AudioLevelObserverVolume[]];
		silence: [];
	};

	type AudioLevelObserverObserver = extras.EnhancedEventEmitter<AudioLevelObserverObserverEvents>;

	interface AudioLevelObserver<AudioLevelObserverAppData extends AppData = AppData>
		extends RtpObserver<
			AudioLevelObserverAppData,
			AudioLevelObserverEvents,
			AudioLevelObserverObserver
		> {
		get type(): 'audiolevel';
		get observer(): AudioLevelObserverObserver;
	}
}

// Keep the unexported helpers above private to this module.
export {};
