'use strict';

const { EnhancedEventEmitter } = require('./enhancedEvents');
const { Logger } = require('./Logger');
const { NotFoundError } = require('../errors');
const { Producer } = require('./Producer');
const { Consumer } = require('./Consumer');
const { DataProducer } = require('./DataProducer');
const { DataConsumer } = require('./DataConsumer');
const ortc = require('./ortc');
const utils = require('./utils');

const logger = new Logger('Transport');

const TRACE_EVENT_TYPES = ['probation', 'bwe'];

/** What every transport kind shares (mediasoup's Transport). */
class Transport extends EnhancedEventEmitter {
	#closed = false;
	#appData;
	#observer;
	#producers = new Map();
	consumers = new Map();
	dataProducers = new Map();
	dataConsumers = new Map();

	/** @private */
	/** SCTP stream ids handed to data consumers (round-robin, as mediasoup). */
	#sctpStreamIds;
	#nextSctpStreamId = 0;
	#negotiatedMaxOutboundStreams;
	/** SCTP of transports created with enableSctp (all undefined otherwise). */
	#sctp = { parameters: undefined, state: undefined, negotiatedCapabilities: undefined };

	constructor({ internal, channel, appData, getRouterRtpCapabilities, getProducerById, getDataProducerById }, observer) {
		super();
		this.internal = internal;
		this.channel = channel;
		this.#appData = appData ?? {};
		this.getRouterRtpCapabilities = getRouterRtpCapabilities;
		this.getProducerById = getProducerById;
		this.getDataProducerById = getDataProducerById ?? (() => undefined);
		this.#observer = observer;
		this.on('listenererror', (eventName, error) => {
			logger.error(`event listener threw an error [eventName:${eventName}]:`, error);
		});
	}

	get id() {
		return this.internal.transportId;
	}

	get closed() {
		return this.#closed;
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

	/** @private */
	get channelForTesting() {
		return this.channel;
	}

	close() {
		if (this.#closed) {
			return;
		}
		logger.debug('close()');
		this.#closed = true;
		this.#markSctpClosed();
		this.channel.removeAllListeners(this.internal.transportId);
		this.channel
			.request('router.closeTransport', this.internal.routerId, { transportId: this.internal.transportId })
			.catch(() => {});
		this.#closeChildren(true);
		this.emit('@close');
		this.#observer.safeEmit('close');
	}

	/** @private The router closed. */
	routerClosed() {
		if (this.#closed) {
			return;
		}
		logger.debug('routerClosed()');
		this.#closed = true;
		this.#markSctpClosed();
		this.channel.removeAllListeners(this.internal.transportId);
		this.#closeChildren(false);
		this.safeEmit('routerclose');
		this.#observer.safeEmit('close');
	}

	/** @private The WebRtcServer closed. */
	listenServerClosed() {
		if (this.#closed) {
			return;
		}
		this.#closed = true;
		this.#markSctpClosed();
		this.channel.removeAllListeners(this.internal.transportId);
		this.#closeChildren(false);
		this.emit('@listenserverclose');
		this.safeEmit('listenserverclose');
		this.#observer.safeEmit('close');
	}

	#closeChildren(tellRouter) {
		for (const producer of this.#producers.values()) {
			producer.transportClosed();
			if (tellRouter) {
				this.emit('@producerclose', producer);
			}
		}
		this.#producers.clear();
		for (const consumer of this.consumers.values()) {
			consumer.transportClosed();
		}
		this.consumers.clear();
		for (const dataProducer of this.dataProducers.values()) {
			dataProducer.transportClosed();
			if (tellRouter) {
				this.emit('@dataproducerclose', dataProducer);
			}
		}
		this.dataProducers.clear();
		for (const dataConsumer of this.dataConsumers.values()) {
			dataConsumer.transportClosed();
		}
		this.dataConsumers.clear();
	}

	/** @private Subclasses pass the worker's answer to their creation. */
	initSctp({ sctpParameters, sctpState }) {
		this.#sctp.parameters = sctpParameters;
		this.#sctp.state = sctpState;
	}

	get sctpParameters() {
		return utils.clone(this.#sctp.parameters);
	}

	get sctpState() {
		return this.#sctp.state;
	}

	get sctpNegotiatedCapabilities() {
		return utils.clone(this.#sctp.negotiatedCapabilities);
	}

	#markSctpClosed() {
		if (this.#sctp.state) {
			this.#sctp.state = 'closed';
		}
	}

	/** @private The SCTP notifications every transport kind shares; false for any other event. */
	handleSctpNotification(event, data) {
		switch (event) {
			case 'sctpstatechange':
				this.#sctp.state = data.sctpState;
				this.safeEmit('sctpstatechange', data.sctpState);
				this.#observer.safeEmit('sctpstatechange', data.sctpState);
				return true;
			case 'sctpnegotiatedcapabilities':
				// What the worker negotiated bounds the stream ids of data consumers.
				this.#sctp.negotiatedCapabilities = data;
				this.#negotiatedMaxOutboundStreams = data?.negotiatedMaxOutboundStreams;
				return true;
			default:
				return false;
		}
	}

	/** A free SCTP stream id for a data consumer: the next one after the last given, as mediasoup. */
	#allocateSctpStreamId() {
		this.#sctpStreamIds ??= new Uint8Array(65535);
		if (this.#negotiatedMaxOutboundStreams && this.#nextSctpStreamId + 1 > this.#negotiatedMaxOutboundStreams) {
			this.#nextSctpStreamId = 0;
		}
		for (let idx = 0; idx < this.#sctpStreamIds.length; idx++) {
			const id = (this.#nextSctpStreamId + idx) % this.#sctpStreamIds.length;
			if (!this.#sctpStreamIds[id]) {
				this.#sctpStreamIds[id] = 1;
				this.#nextSctpStreamId = id + 1;
				return id;
			}
		}
		throw new Error('no sctpStreamId available');
	}

	#freeSctpStreamId(id) {
		if (this.#sctpStreamIds && typeof id === 'number') this.#sctpStreamIds[id] = 0;
	}

	async dump() {
		return this.channel.request('transport.dump', this.internal.transportId);
	}

	async getStats() {
		return this.channel.request('transport.getStats', this.internal.transportId);
	}

	async setMaxIncomingBitrate(bitrate) {
		logger.debug(`setMaxIncomingBitrate() [bitrate:${bitrate}]`);
		await this.channel.request('transport.setMaxIncomingBitrate', this.internal.transportId, { bitrate: checkBitrate(bitrate) });
	}

	async setMaxOutgoingBitrate(bitrate) {
		logger.debug(`setMaxOutgoingBitrate() [bitrate:${bitrate}]`);
		await this.channel.request('transport.setMaxOutgoingBitrate', this.internal.transportId, { bitrate: checkBitrate(bitrate) });
	}

	async setMinOutgoingBitrate(bitrate) {
		logger.debug(`setMinOutgoingBitrate() [bitrate:${bitrate}]`);
		await this.channel.request('transport.setMinOutgoingBitrate', this.internal.transportId, { bitrate: checkBitrate(bitrate) });
	}

	async enableTraceEvent(types = []) {
		if (!Array.isArray(types)) {
			throw new TypeError('types must be an array');
		} else if (types.find((type) => typeof type !== 'string')) {
			throw new TypeError('every type must be a string');
		}
		// Unknown types are ignored, as mediasoup does.
		const known = types.filter((t) => TRACE_EVENT_TYPES.includes(t));
		await this.channel.request('transport.enableTraceEvent', this.internal.transportId, { types: known });
	}

	async produce({
		id = undefined,
		kind,
		rtpParameters,
		paused = false,
		keyFrameRequestDelay,
		enableMediasoupPacketIdHeaderExtension,
		keyFrameCache,
		appData,
	} = {}) {
		logger.debug('produce()');
		checkKeyFrameCache(keyFrameCache);
		if (id && this.#producers.has(id)) {
			throw new TypeError(`a Producer with same id "${id}" already exists`);
		} else if (kind !== 'audio' && kind !== 'video') {
			throw new TypeError(`invalid kind "${kind}"`);
		}
		utils.checkAppData(appData);
		if (!rtpParameters || typeof rtpParameters !== 'object') {
			throw new TypeError('params is not an object');
		}
		const producerId = id ?? utils.generateUUIDv4();
		// The worker validates and normalizes the parameters, maps them onto the router's
		// capabilities and gives them this transport's CNAME; it answers with the results.
		const answer = await this.channel.request('transport.produce', this.internal.transportId, {
			producerId,
			kind,
			rtpParameters,
			paused: Boolean(paused),
			keyFrameRequestDelay,
			enableMediasoupPacketIdHeaderExtension,
			keyFrameCache,
		});
		const producer = new Producer({
			internal: { ...this.internal, producerId },
			data: {
				kind,
				rtpParameters: answer.rtpParameters,
				type: answer.type,
				consumableRtpParameters: answer.consumableRtpParameters,
			},
			channel: this.channel,
			appData,
			paused: Boolean(paused),
		});
		this.#producers.set(producer.id, producer);
		producer.on('@close', () => {
			this.#producers.delete(producer.id);
			this.emit('@producerclose', producer);
		});
		this.emit('@newproducer', producer);
		this.#observer.safeEmit('newproducer', producer);
		return producer;
	}

	async consume({
		producerId,
		rtpCapabilities,
		paused = false,
		mid,
		preferredLayers,
		ignoreDtx = false,
		enableRtx,
		pipe = false,
		appData,
	} = {}) {
		logger.debug('consume()');
		if (!producerId || typeof producerId !== 'string') {
			throw new TypeError('missing producerId');
		}
		utils.checkAppData(appData);
		// As in mediasoup, an empty or other falsy mid means "assign the next one".
		if (mid && (typeof mid !== 'string' || mid.length === 0)) {
			throw new TypeError('if given, mid must be non empty string');
		}
		// The worker validates the capabilities fully (TypeError); only their type is checked
		// here, so that the Node thread does no ORTC work per join.
		if (!rtpCapabilities || typeof rtpCapabilities !== 'object') {
			throw new TypeError('caps is not an object');
		}
		const producer = this.getProducerById(producerId);
		if (!producer) {
			throw new NotFoundError(`Producer with id "${producerId}" not found`);
		}
		const consumerId = utils.generateUUIDv4();
		// The worker derives the consumer's parameters from the producer's consumable ones and
		// the capabilities (UnsupportedError if nothing fits) and assigns the next MID.
		const answer = await this.channel.request('transport.consume', this.internal.transportId, {
			consumerId,
			producerId,
			rtpCapabilities,
			paused: Boolean(paused),
			mid: mid || undefined,
			preferredLayers,
			ignoreDtx: Boolean(ignoreDtx),
			enableRtx,
			pipe: Boolean(pipe),
		});
		const consumer = new Consumer({
			internal: { ...this.internal, consumerId },
			data: {
				producerId,
				kind: answer.kind ?? producer.kind,
				rtpParameters: answer.rtpParameters,
				type: answer.type ?? (pipe ? 'pipe' : producer.type),
			},
			channel: this.channel,
			appData,
			paused: answer.paused,
			producerPaused: answer.producerPaused,
			score: answer.score ?? undefined,
			preferredLayers: answer.preferredLayers,
			priority: answer.priority,
		});
		this.consumers.set(consumer.id, consumer);
		consumer.on('@close', () => this.consumers.delete(consumer.id));
		consumer.on('@producerclose', () => this.consumers.delete(consumer.id));
		this.#observer.safeEmit('newconsumer', consumer);
		return consumer;
	}

	async produceData({ id = undefined, sctpStreamParameters, label = '', protocol = '', paused = false, appData } = {}) {
		logger.debug('produceData()');
		if (id && this.dataProducers.has(id)) {
			throw new TypeError(`a DataProducer with same id "${id}" already exists`);
		}
		utils.checkAppData(appData);
		let type;
		if (this.type === 'direct') {
			type = 'direct';
			if (sctpStreamParameters) {
				logger.warn('produceData() | sctpStreamParameters are ignored when producing data on a DirectTransport');
			}
			sctpStreamParameters = undefined;
		} else {
			type = 'sctp';
			// Checked (and normalized) by the worker, with mediasoup's messages.
			if (!sctpStreamParameters || typeof sctpStreamParameters !== 'object') {
				throw new TypeError('params is not an object');
			}
		}
		const dataProducerId = id ?? utils.generateUUIDv4();
		const data = await this.channel.request('transport.produceData', this.internal.transportId, {
			dataProducerId,
			type,
			sctpStreamParameters,
			label,
			protocol,
			paused: Boolean(paused),
		});
		const dataProducer = new DataProducer({
			internal: { ...this.internal, dataProducerId },
			data: { type: data.type, sctpStreamParameters: data.sctpStreamParameters, label: data.label, protocol: data.protocol },
			channel: this.channel,
			paused,
			appData,
		});
		this.dataProducers.set(dataProducer.id, dataProducer);
		dataProducer.on('@close', () => {
			this.dataProducers.delete(dataProducer.id);
			this.emit('@dataproducerclose', dataProducer);
		});
		this.emit('@newdataproducer', dataProducer);
		this.#observer.safeEmit('newdataproducer', dataProducer);
		return dataProducer;
	}

	async consumeData({ dataProducerId, ordered, maxPacketLifeTime, maxRetransmits, paused = false, subchannels, appData } = {}) {
		logger.debug('consumeData()');
		if (!dataProducerId || typeof dataProducerId !== 'string') {
			throw new TypeError('missing dataProducerId');
		}
		utils.checkAppData(appData);
		const dataProducer = this.getDataProducerById(dataProducerId);
		if (!dataProducer) {
			throw new NotFoundError(`DataProducer with id "${dataProducerId}" not found`);
		}
		let type;
		let sctpStreamParameters;
		let sctpStreamId;
		if (this.type === 'direct') {
			type = 'direct';
			if (ordered !== undefined || maxPacketLifeTime !== undefined || maxRetransmits !== undefined) {
				logger.warn('consumeData() | ordered, maxPacketLifeTime and maxRetransmits are ignored when consuming data on a DirectTransport');
			}
		} else {
			type = 'sctp';
			sctpStreamId = this.#allocateSctpStreamId();
			sctpStreamParameters = utils.clone(dataProducer.sctpStreamParameters) ?? { ordered: true };
			sctpStreamParameters.streamId = sctpStreamId;
			if (ordered !== undefined) {
				sctpStreamParameters.ordered = ordered;
				if (ordered) {
					delete sctpStreamParameters.maxPacketLifeTime;
					delete sctpStreamParameters.maxRetransmits;
				}
			}
			if (!ordered) {
				if (maxPacketLifeTime !== undefined) {
					sctpStreamParameters.ordered = false;
					sctpStreamParameters.maxPacketLifeTime = maxPacketLifeTime;
				}
				if (maxRetransmits !== undefined) {
					sctpStreamParameters.ordered = false;
					sctpStreamParameters.maxRetransmits = maxRetransmits;
				}
			}
		}
		const dataConsumerId = utils.generateUUIDv4();
		let data;
		try {
			data = await this.channel.request('transport.consumeData', this.internal.transportId, {
				dataConsumerId,
				dataProducerId,
				type,
				sctpStreamParameters,
				label: dataProducer.label,
				protocol: dataProducer.protocol,
				paused: Boolean(paused),
				subchannels: subchannels ?? [],
			});
		} catch (error) {
			this.#freeSctpStreamId(sctpStreamId);
			throw error;
		}
		const dataConsumer = new DataConsumer({
			internal: { ...this.internal, dataConsumerId },
			data: { dataProducerId, type: data.type, sctpStreamParameters: data.sctpStreamParameters, label: data.label, protocol: data.protocol },
			channel: this.channel,
			paused: data.paused,
			dataProducerPaused: data.dataProducerPaused,
			subchannels: data.subchannels,
			appData,
		});
		this.dataConsumers.set(dataConsumer.id, dataConsumer);
		const gone = () => {
			this.dataConsumers.delete(dataConsumer.id);
			this.#freeSctpStreamId(sctpStreamId);
		};
		dataConsumer.on('@close', gone);
		dataConsumer.on('@dataproducerclose', gone);
		this.#observer.safeEmit('newdataconsumer', dataConsumer);
		return dataConsumer;
	}
}

/** ferrosoup's `keyFrameCache` option: `false`, or `{ maxDurationMs, maxBytes }` (both optional). */
function checkKeyFrameCache(v) {
	if (v === undefined || v === false || v === true) return;
	if (!v || typeof v !== 'object') {
		throw new TypeError('keyFrameCache must be false or { maxDurationMs, maxBytes }');
	}
	for (const key of ['maxDurationMs', 'maxBytes']) {
		if (v[key] !== undefined && (!Number.isInteger(v[key]) || v[key] <= 0)) {
			throw new TypeError(`keyFrameCache.${key} must be a positive integer`);
		}
	}
}

function checkBitrate(bitrate) {
	// mediasoup converts with BigInt(), which throws for non-integers.
	if (typeof bitrate !== 'number' || !Number.isInteger(bitrate)) {
		throw new TypeError(`invalid bitrate ${bitrate}`);
	}
	return bitrate;
}

module.exports = { Transport, checkKeyFrameCache };
