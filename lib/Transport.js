'use strict';

const { EnhancedEventEmitter } = require('./enhancedEvents');
const { Logger } = require('./Logger');
const { UnsupportedError, NotFoundError } = require('../errors');
const { Producer } = require('./Producer');
const { Consumer } = require('./Consumer');
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
	constructor({ internal, channel, appData, getRouterRtpCapabilities, getProducerById }, observer) {
		super();
		this.internal = internal;
		this.channel = channel;
		this.#appData = appData ?? {};
		this.getRouterRtpCapabilities = getRouterRtpCapabilities;
		this.getProducerById = getProducerById;
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

	async produceData() {
		throw new UnsupportedError('DataProducers (SCTP) are not implemented in ferrosoup yet');
	}

	async consumeData() {
		throw new UnsupportedError('DataConsumers (SCTP) are not implemented in ferrosoup yet');
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
