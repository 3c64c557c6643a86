'use strict';

const { EnhancedEventEmitter } = require('./enhancedEvents');
const { Logger } = require('./Logger');
const ortc = require('./ortc');
const utils = require('./utils');

const { WebRtcTransport } = require('./WebRtcTransport');
const { PipeTransport } = require('./PipeTransport');
const { PlainTransport, checkSrtpCryptoSuite } = require('./PlainTransport');
const { DirectTransport } = require('./DirectTransport');
const { AudioLevelObserver } = require('./AudioLevelObserver');
const { ActiveSpeakerObserver } = require('./ActiveSpeakerObserver');
const { NotFoundError } = require('../errors');

const logger = new Logger('Router');

/** A transport's SCTP options as the worker takes them (sizes only with SCTP or a limit). */
function sctpOptions(o) {
	return {
		enableSctp: Boolean(o.enableSctp),
		maxSendMessageSize: o.maxSendMessageSize,
		maxReceiveMessageSize: o.maxReceiveMessageSize,
		sctpSendBufferSize: o.sctpSendBufferSize,
		sctpPerStreamSendQueueLimit: o.sctpPerStreamSendQueueLimit,
		sctpMaxReceiverWindowBufferSize: o.sctpMaxReceiverWindowBufferSize,
		sctpDefaultStreamBufferedAmountLowThreshold: o.sctpDefaultStreamBufferedAmountLowThreshold,
	};
}

/** A number as the worker's 16-bit option fields take it (truncated, wrapped). */
function uint16(n) {
	return Math.trunc(n) & 0xffff;
}

/** A mediasoup Router: a room's routing table, living on its worker thread. */
class Router extends EnhancedEventEmitter {
	#internal;
	#data;
	// Copies of #data.rtpCapabilities for the getter (made on first use, again after updateMediaCodecs()).
	#rtpCapabilitiesCopies;
	#channel;
	#closed = false;
	#appData;
	#transports = new Map();
	#producers = new Map();
	#rtpObservers = new Map();
	#dataProducers = new Map();
	/** Pipe transport pairs to other routers, by the other router's id (promises). */
	#pipePairs = new Map();
	/** Producers that came in through a pipe (their original lives on another router). */
	#pipeProducerIds = new Set();
	#pipeDataProducerIds = new Set();
	#observer = new EnhancedEventEmitter();

	/** @private */
	constructor({ internal, data, channel, appData }) {
		super();
		logger.debug('constructor()');
		this.#internal = internal;
		this.#data = data;
		this.#channel = channel;
		this.#appData = appData ?? {};
		this.on('listenererror', (eventName, error) => {
			logger.error(`event listener threw an error [eventName:${eventName}]:`, error);
		});
	}

	get id() {
		return this.#internal.routerId;
	}

	get closed() {
		return this.#closed;
	}

	get rtpCapabilities() {
		// Apps send these to every joining client.
		this.#rtpCapabilitiesCopies ??= new utils.JsonCopies(this.#data.rtpCapabilities);
		return this.#rtpCapabilitiesCopies.copy();
	}

	get appData() {
		return this.#appData;
	}

	set appData(appData) {
		this.#appData = appData;
	}

	get observer() {
		return this.#observer;
	}

	/** @private Which worker thread it lives on (RouterGroup matches WebRtcServers by it). */
	get workerNumber() {
		return this.#channel.number;
	}

	/** @private */
	get transportsForTesting() {
		return this.#transports;
	}

	close() {
		if (this.#closed) {
			return;
		}
		logger.debug('close()');
		this.#closed = true;
		this.#channel.request('worker.closeRouter', '', { routerId: this.id }).catch(() => {});
		this.#closeChildren();
		this.emit('@close');
		this.#observer.safeEmit('close');
	}

	/** @private */
	workerClosed() {
		if (this.#closed) {
			return;
		}
		logger.debug('workerClosed()');
		this.#closed = true;
		this.#closeChildren();
		this.safeEmit('workerclose');
		this.#observer.safeEmit('close');
	}

	#closeChildren() {
		for (const transport of this.#transports.values()) {
			transport.routerClosed();
		}
		this.#transports.clear();
		this.#producers.clear();
		this.#dataProducers.clear();
		for (const rtpObserver of this.#rtpObservers.values()) {
			rtpObserver.routerClosed();
		}
		this.#rtpObservers.clear();
	}

	/** @private */
	get rtpObserversForTesting() {
		return this.#rtpObservers;
	}

	async dump() {
		logger.debug('dump()');
		return this.#channel.request('router.dump', this.id);
	}

	async createWebRtcTransport({
		webRtcServer,
		listenInfos,
		listenIps,
		port,
		enableUdp,
		enableTcp,
		preferUdp = false,
		preferTcp = false,
		initialAvailableOutgoingBitrate = 600000,
		enableSctp = false,
		maxSendMessageSize = 262144,
		maxReceiveMessageSize = 262144,
		sctpSendBufferSize = 2000000,
		sctpPerStreamSendQueueLimit = 2000000,
		sctpMaxReceiverWindowBufferSize = 5242880,
		sctpDefaultStreamBufferedAmountLowThreshold = 1024,
		iceConsentTimeout = 30,
		appData,
	} = {}) {
		logger.debug('createWebRtcTransport()');
		if (!webRtcServer && !Array.isArray(listenInfos) && !Array.isArray(listenIps)) {
			throw new TypeError('missing webRtcServer, listenInfos and listenIps (one of them is mandatory)');
		} else if (webRtcServer && listenInfos && listenIps) {
			throw new TypeError('only one of webRtcServer, listenInfos and listenIps must be given');
		}
		utils.checkAppData(appData);
		const sctp = sctpOptions({
			enableSctp, maxSendMessageSize, maxReceiveMessageSize, sctpSendBufferSize, sctpPerStreamSendQueueLimit,
			sctpMaxReceiverWindowBufferSize, sctpDefaultStreamBufferedAmountLowThreshold,
		});
		if (typeof iceConsentTimeout !== 'number' || iceConsentTimeout < 0 || iceConsentTimeout > 255) {
			throw new TypeError('invalid iceConsentTimeout');
		}
		if (webRtcServer) {
			// The server's sockets; listenInfos/listenIps given alongside are ignored, as in mediasoup.
			const transportId = utils.generateUUIDv4();
			const data = await this.#channel.request('router.createWebRtcTransportWithServer', this.id, {
				transportId,
				webRtcServerId: webRtcServer.id,
				enableUdp: enableUdp ?? true,
				enableTcp: enableTcp ?? true,
				preferUdp: Boolean(preferUdp),
				preferTcp: Boolean(preferTcp),
				initialAvailableOutgoingBitrate,
				iceConsentTimeout: Math.floor(iceConsentTimeout),
				...sctp,
			});
			const transport = this.#adopt(this.#newWebRtcTransport(transportId, data, appData));
			webRtcServer.handleWebRtcTransport(transport);
			return transport;
		}
		enableUdp ??= true;
		enableTcp ??= false;
		// The older listenIps form becomes listenInfos, protocols in preference order.
		if (listenIps) {
			const ips = listenIps.map((listenIp) => (typeof listenIp === 'string' ? { ip: listenIp } : listenIp));
			const protocols = [];
			if (enableUdp && (preferUdp || !enableTcp || !preferTcp)) {
				protocols.push('udp');
				if (enableTcp) protocols.push('tcp');
			} else if (enableTcp && ((preferTcp && !preferUdp) || !enableUdp)) {
				protocols.push('tcp');
				if (enableUdp) protocols.push('udp');
			}
			listenInfos = [];
			for (const listenIp of ips) {
				for (const protocol of protocols) {
					listenInfos.push({ protocol, ip: listenIp.ip, announcedAddress: listenIp.announcedIp, port });
				}
			}
		}
		if (listenInfos.length === 0) {
			throw new TypeError('empty listenInfos');
		}
		const transportId = utils.generateUUIDv4();
		const data = await this.#channel.request('router.createWebRtcTransport', this.id, {
			transportId,
			// Checked by the worker (one place for listen-info rules).
			listenInfos,
			enableUdp,
			enableTcp,
			preferUdp,
			preferTcp,
			initialAvailableOutgoingBitrate,
			iceConsentTimeout: Math.floor(iceConsentTimeout),
			...sctp,
		});
		return this.#adopt(this.#newWebRtcTransport(transportId, data, appData));
	}

	#newWebRtcTransport(transportId, data, appData) {
		return new WebRtcTransport({
			internal: { routerId: this.id, transportId },
			data,
			channel: this.#channel,
			appData,
			getRouterRtpCapabilities: () => this.#data.rtpCapabilities,
			getProducerById: (producerId) => this.#producers.get(producerId),
			getDataProducerById: (dataProducerId) => this.#dataProducers.get(dataProducerId),
		});
	}

	/** Tracks a new transport and its producers, as mediasoup's Router does. */
	#adopt(transport) {
		this.#transports.set(transport.id, transport);
		transport.on('@close', () => this.#transports.delete(transport.id));
		transport.on('@listenserverclose', () => this.#transports.delete(transport.id));
		transport.on('@newproducer', (producer) => this.#producers.set(producer.id, producer));
		transport.on('@producerclose', (producer) => this.#producers.delete(producer.id));
		transport.on('@newdataproducer', (dataProducer) => this.#dataProducers.set(dataProducer.id, dataProducer));
		transport.on('@dataproducerclose', (dataProducer) => this.#dataProducers.delete(dataProducer.id));
		this.#observer.safeEmit('newtransport', transport);
		return transport;
	}

	/**
	 * mediasoup's createPlainTransport(): RTP/RTCP over UDP to one endpoint (connect(), or the
	 * first sender with `comedia`), RTCP muxed or on its own port, optionally SRTP (SDES keys).
	 */
	async createPlainTransport({
		listenInfo,
		rtcpListenInfo,
		listenIp,
		port,
		rtcpMux = true,
		comedia = false,
		enableSctp = false,
		maxSendMessageSize = 262144,
		maxReceiveMessageSize = 262144,
		sctpSendBufferSize = 2000000,
		sctpPerStreamSendQueueLimit = 2000000,
		sctpMaxReceiverWindowBufferSize = 5242880,
		sctpDefaultStreamBufferedAmountLowThreshold = 1024,
		enableSrtp = false,
		srtpCryptoSuite = 'AES_CM_128_HMAC_SHA1_80',
		appData,
	}) {
		logger.debug('createPlainTransport()');
		if (!listenInfo && !listenIp) {
			throw new TypeError('missing listenInfo and listenIp (one of them is mandatory)');
		} else if (listenInfo && listenIp) {
			throw new TypeError('only one of listenInfo and listenIp must be given');
		}
		utils.checkAppData(appData);
		if (rtcpMux && rtcpListenInfo) {
			logger.warn('createPlainTransport() | ignoring rtcpMux since rtcpListenInfo is given');
			rtcpMux = false;
		}
		if (listenIp) {
			if (typeof listenIp === 'string') listenIp = { ip: listenIp };
			listenInfo = { protocol: 'udp', ip: listenIp.ip, announcedAddress: listenIp.announcedIp, port };
		}
		checkSrtpCryptoSuite(srtpCryptoSuite);
		const sctp = sctpOptions({
			enableSctp, maxSendMessageSize, maxReceiveMessageSize, sctpSendBufferSize, sctpPerStreamSendQueueLimit,
			sctpMaxReceiverWindowBufferSize, sctpDefaultStreamBufferedAmountLowThreshold,
		});
		const transportId = utils.generateUUIDv4();
		const data = await this.#channel.request('router.createPlainTransport', this.id, {
			transportId,
			// Checked by the worker (one place for listen-info rules).
			listenInfo,
			rtcpListenInfo,
			rtcpMux: Boolean(rtcpMux),
			comedia: Boolean(comedia),
			enableSrtp: Boolean(enableSrtp),
			srtpCryptoSuite,
			...sctp,
		});
		const transport = new PlainTransport({
			internal: { routerId: this.id, transportId },
			data,
			channel: this.#channel,
			appData,
			getRouterRtpCapabilities: () => this.#data.rtpCapabilities,
			getProducerById: (producerId) => this.#producers.get(producerId),
			getDataProducerById: (dataProducerId) => this.#dataProducers.get(dataProducerId),
		});
		return this.#adopt(transport);
	}

	/**
	 * mediasoup's createPipeTransport(): plain RTP/RTCP (optionally SRTP) over UDP to another
	 * router (ferrosoup or mediasoup, in another process or host) once connect() names it.
	 */
	async createPipeTransport({
		listenInfo,
		listenIp,
		port,
		enableSctp = false,
		maxSendMessageSize = 262144,
		maxReceiveMessageSize = 262144,
		sctpSendBufferSize = 2000000,
		sctpPerStreamSendQueueLimit = 2000000,
		sctpMaxReceiverWindowBufferSize = 5242880,
		sctpDefaultStreamBufferedAmountLowThreshold = 1024,
		enableRtx = false,
		enableSrtp = false,
		appData,
	} = {}) {
		logger.debug('createPipeTransport()');
		if (!listenInfo && !listenIp) {
			throw new TypeError('missing listenInfo and listenIp (one of them is mandatory)');
		} else if (listenInfo && listenIp) {
			throw new TypeError('only one of listenInfo and listenIp must be given');
		}
		utils.checkAppData(appData);
		const sctp = sctpOptions({
			enableSctp, maxSendMessageSize, maxReceiveMessageSize, sctpSendBufferSize, sctpPerStreamSendQueueLimit,
			sctpMaxReceiverWindowBufferSize, sctpDefaultStreamBufferedAmountLowThreshold,
		});
		if (listenIp) {
			if (typeof listenIp === 'string') listenIp = { ip: listenIp };
			listenInfo = { protocol: 'udp', ip: listenIp.ip, announcedAddress: listenIp.announcedIp, port };
		}
		const transportId = utils.generateUUIDv4();
		const data = await this.#channel.request('router.createPipeTransport', this.id, {
			transportId,
			listenInfo,
			enableRtx: Boolean(enableRtx),
			enableSrtp: Boolean(enableSrtp),
			...sctp,
		});
		const transport = new PipeTransport({
			internal: { routerId: this.id, transportId },
			data,
			channel: this.#channel,
			appData,
			getRouterRtpCapabilities: () => this.#data.rtpCapabilities,
			getProducerById: (producerId) => this.#producers.get(producerId),
			getDataProducerById: (dataProducerId) => this.#dataProducers.get(dataProducerId),
		});
		return this.#adopt(transport);
	}

	/** mediasoup's createDirectTransport(): RTP/RTCP to and from the app, no network. */
	async createDirectTransport({ maxSendMessageSize = 262144, maxReceiveMessageSize = 262144, appData } = {}) {
		logger.debug('createDirectTransport()');
		utils.checkAppData(appData);
		const transportId = utils.generateUUIDv4();
		await this.#channel.request('router.createDirectTransport', this.id, { transportId, maxSendMessageSize, maxReceiveMessageSize });
		const transport = new DirectTransport({
			internal: { routerId: this.id, transportId },
			data: {},
			channel: this.#channel,
			appData,
			getRouterRtpCapabilities: () => this.#data.rtpCapabilities,
			getProducerById: (producerId) => this.#producers.get(producerId),
			getDataProducerById: (dataProducerId) => this.#dataProducers.get(dataProducerId),
		});
		return this.#adopt(transport);
	}

	/**
	 * mediasoup's pipeToRouter(). Between routers of this process (on the same or another worker
	 * thread) packets are handed over in memory; the result has mediasoup's shape.
	 */
	async pipeToRouter({ producerId, dataProducerId, router, keepId = true } = {}) {
		logger.debug('pipeToRouter()');
		if (!producerId && !dataProducerId) {
			throw new TypeError('missing producerId or dataProducerId');
		} else if (producerId && dataProducerId) {
			throw new TypeError('just producerId or dataProducerId can be given');
		} else if (!router) {
			throw new TypeError('missing router');
		} else if (router === this) {
			throw new TypeError('cannot use this Router as destination');
		} else if (!(router instanceof Router)) {
			throw new TypeError('router must be a ferrosoup Router of this process');
		}
		if (dataProducerId) {
			return this.#pipeDataToRouter({ dataProducerId, router, keepId });
		}
		const producer = this.#producers.get(producerId);
		if (!producer) {
			throw new NotFoundError('Producer not found');
		}
		const pair = await this.#pipePairTo(router);
		const local = pair[this.id];
		const remote = pair[router.id];
		let pipeConsumer;
		let pipeProducer;
		try {
			pipeConsumer = await local.consume({ producerId });
			pipeProducer = await remote.produce({
				id: keepId ? producer.id : utils.generateUUIDv4(),
				kind: pipeConsumer.kind,
				rtpParameters: pipeConsumer.rtpParameters,
				paused: pipeConsumer.producerPaused,
				appData: producer.appData,
			});
			if (producer.closed) {
				throw new NotFoundError('original Producer closed');
			}
			if (pipeProducer.paused !== producer.paused) {
				if (producer.paused) await pipeProducer.pause();
				else await pipeProducer.resume();
			}
			pipeConsumer.observer.on('close', () => pipeProducer.close());
			pipeConsumer.observer.on('pause', () => void pipeProducer.pause().catch(() => {}));
			pipeConsumer.observer.on('resume', () => void pipeProducer.resume().catch(() => {}));
			pipeProducer.observer.on('close', () => pipeConsumer.close());
			return { pipeConsumer, pipeProducer };
		} catch (error) {
			logger.error(`pipeToRouter() | error creating pipe Consumer/Producer pair: ${error}`);
			pipeConsumer?.close();
			pipeProducer?.close();
			throw error;
		}
	}

	/** pipeToRouter() of a data producer: a pipe data consumer here, a pipe data producer there. */
	async #pipeDataToRouter({ dataProducerId, router, keepId }) {
		const dataProducer = this.#dataProducers.get(dataProducerId);
		if (!dataProducer) {
			throw new NotFoundError('DataProducer not found');
		}
		const pair = await this.#pipePairTo(router);
		const local = pair[this.id];
		const remote = pair[router.id];
		let pipeDataConsumer;
		let pipeDataProducer;
		try {
			pipeDataConsumer = await local.consumeData({ dataProducerId });
			pipeDataProducer = await remote.produceData({
				id: keepId ? dataProducer.id : utils.generateUUIDv4(),
				sctpStreamParameters: pipeDataConsumer.sctpStreamParameters,
				label: pipeDataConsumer.label,
				protocol: pipeDataConsumer.protocol,
				appData: dataProducer.appData,
			});
			if (dataProducer.closed) {
				throw new NotFoundError('original DataProducer closed');
			}
			pipeDataConsumer.observer.on('close', () => pipeDataProducer.close());
			pipeDataProducer.observer.on('close', () => pipeDataConsumer.close());
			return { pipeDataConsumer, pipeDataProducer };
		} catch (error) {
			logger.error(`pipeToRouter() | error creating pipe DataConsumer/DataProducer pair: ${error}`);
			pipeDataConsumer?.close();
			pipeDataProducer?.close();
			throw error;
		}
	}

	/** The (cached) pair of in-memory pipe transports between this router and `router`. */
	#pipePairTo(router) {
		let promise = this.#pipePairs.get(router.id);
		if (!promise) {
			promise = (async () => {
				const [local, remote] = await Promise.all([this.createInMemoryPipeTransport(), router.createInMemoryPipeTransport()]);
				try {
					await Promise.all([local.connectInMemory(remote), remote.connectInMemory(local)]);
				} catch (error) {
					local.close();
					remote.close();
					throw error;
				}
				local.observer.on('close', () => {
					remote.close();
					this.#pipePairs.delete(router.id);
				});
				remote.observer.on('close', () => {
					local.close();
					this.#pipePairs.delete(router.id);
				});
				return { [this.id]: local, [router.id]: remote };
			})();
			promise.catch(() => this.#pipePairs.delete(router.id));
			this.#pipePairs.set(router.id, promise);
			router.addPipeTransportPair(this.id, promise);
		}
		return promise;
	}

	/** @private The other router of a pipe pair registers it here too. */
	addPipeTransportPair(routerId, promise) {
		this.#pipePairs.set(routerId, promise);
		promise
			.then((pair) => pair[this.id].observer.on('close', () => this.#pipePairs.delete(routerId)))
			.catch(() => this.#pipePairs.delete(routerId));
	}

	/** @private */
	async createInMemoryPipeTransport() {
		const transportId = utils.generateUUIDv4();
		const data = await this.#channel.request('router.createPipeTransport', this.id, { transportId, inMemory: true });
		const transport = new PipeTransport({
			internal: { routerId: this.id, transportId },
			data,
			channel: this.#channel,
			appData: {},
			getRouterRtpCapabilities: () => this.#data.rtpCapabilities,
			getProducerById: (producerId) => this.#producers.get(producerId),
			getDataProducerById: (dataProducerId) => this.#dataProducers.get(dataProducerId),
		});
		this.#transports.set(transport.id, transport);
		transport.on('@close', () => this.#transports.delete(transport.id));
		transport.on('@newproducer', (producer) => {
			this.#producers.set(producer.id, producer);
			this.#pipeProducerIds.add(producer.id);
		});
		transport.on('@producerclose', (producer) => {
			this.#producers.delete(producer.id);
			this.#pipeProducerIds.delete(producer.id);
		});
		transport.on('@newdataproducer', (dataProducer) => {
			this.#dataProducers.set(dataProducer.id, dataProducer);
			this.#pipeDataProducerIds.add(dataProducer.id);
		});
		transport.on('@dataproducerclose', (dataProducer) => {
			this.#dataProducers.delete(dataProducer.id);
			this.#pipeDataProducerIds.delete(dataProducer.id);
		});
		this.#observer.safeEmit('newtransport', transport);
		return transport;
	}

	/** @private (RouterGroup) */
	hasProducer(producerId) {
		const p = this.#producers.get(producerId);
		return Boolean(p && !p.closed);
	}

	/** @private (RouterGroup) */
	hasDataProducer(dataProducerId) {
		const p = this.#dataProducers.get(dataProducerId);
		return Boolean(p && !p.closed);
	}

	/** @private (RouterGroup) */
	isPipeDataProducer(dataProducerId) {
		return this.#pipeDataProducerIds.has(dataProducerId);
	}

	/** @private (RouterGroup) A producer of this router by id. */
	getProducerById(producerId) {
		return this.#producers.get(producerId);
	}

	/** @private */
	isPipeProducer(producerId) {
		return this.#pipeProducerIds.has(producerId);
	}

	/** mediasoup's createActiveSpeakerObserver(): `dominantspeaker` among the added producers. */
	async createActiveSpeakerObserver({ interval = 300, appData } = {}) {
		logger.debug('createActiveSpeakerObserver()');
		if (typeof interval !== 'number') {
			throw new TypeError('if given, interval must be an number');
		}
		utils.checkAppData(appData);
		return this.#newRtpObserver(ActiveSpeakerObserver, 'router.createActiveSpeakerObserver', { interval: uint16(interval) }, appData);
	}

	/** mediasoup's createAudioLevelObserver(): `volumes`/`silence` of the added producers. */
	async createAudioLevelObserver({ maxEntries = 1, threshold = -80, interval = 1000, appData } = {}) {
		logger.debug('createAudioLevelObserver()');
		// mediasoup's messages, typos included.
		if (typeof maxEntries !== 'number' || maxEntries <= 0) {
			throw new TypeError('if given, maxEntries must be a positive number');
		} else if (typeof threshold !== 'number' || threshold < -127 || threshold > 0) {
			throw new TypeError('if given, threshole must be a negative number greater than -127');
		} else if (typeof interval !== 'number') {
			throw new TypeError('if given, interval must be an number');
		}
		utils.checkAppData(appData);
		return this.#newRtpObserver(
			AudioLevelObserver,
			'router.createAudioLevelObserver',
			{ maxEntries: Math.max(1, uint16(maxEntries)), threshold: Math.trunc(threshold), interval: uint16(interval) },
			appData
		);
	}

	async #newRtpObserver(Kind, method, options, appData) {
		const rtpObserverId = utils.generateUUIDv4();
		await this.#channel.request(method, this.id, { rtpObserverId, ...options });
		const rtpObserver = new Kind({
			internal: { routerId: this.id, rtpObserverId },
			channel: this.#channel,
			appData,
			getProducerById: (producerId) => this.#producers.get(producerId),
			getDataProducerById: (dataProducerId) => this.#dataProducers.get(dataProducerId),
		});
		this.#rtpObservers.set(rtpObserver.id, rtpObserver);
		rtpObserver.on('@close', () => this.#rtpObservers.delete(rtpObserver.id));
		this.#observer.safeEmit('newrtpobserver', rtpObserver);
		return rtpObserver;
	}

	canConsume({ producerId, rtpCapabilities }) {
		const producer = this.#producers.get(producerId);
		if (!producer) {
			logger.error(`canConsume() | Producer with id "${producerId}" not found`);
			return false;
		}
		try {
			return ortc.canConsumeProducer(producer, rtpCapabilities);
		} catch (error) {
			logger.error(`canConsume() | unexpected error: ${error}`);
			return false;
		}
	}

	updateMediaCodecs(mediaCodecs) {
		logger.debug('updateMediaCodecs()');
		// Throws TypeError/UnsupportedError like createRouter() rejects.
		const rtpCapabilities = ortc.generateRouterRtpCapabilities(mediaCodecs);
		this.#data.rtpCapabilities = rtpCapabilities;
		this.#rtpCapabilitiesCopies = undefined;
		// Keep the worker's copy in step (producers are mapped there).
		this.#channel.request('router.updateRtpCapabilities', this.id, { rtpCapabilities }).catch(() => {});
	}
}

module.exports = { Router };
