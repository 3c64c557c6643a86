'use strict';

const { EnhancedEventEmitter } = require('./enhancedEvents');
const { Logger } = require('./Logger');
const { UnsupportedError } = require('../errors');

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

	async produce() {
		throw new UnsupportedError('Producers are not implemented in ferrosoup yet');
	}

	async consume() {
		throw new UnsupportedError('Consumers are not implemented in ferrosoup yet');
	}

	async produceData() {
		throw new UnsupportedError('DataProducers (SCTP) are not implemented in ferrosoup yet');
	}

	async consumeData() {
		throw new UnsupportedError('DataConsumers (SCTP) are not implemented in ferrosoup yet');
	}
}

function checkBitrate(bitrate) {
	// mediasoup converts with BigInt(), which throws for non-integers.
	if (typeof bitrate !== 'number' || !Number.isInteger(bitrate)) {
		throw new TypeError(`invalid bitrate ${bitrate}`);
	}
	return bitrate;
}

module.exports = { Transport };
