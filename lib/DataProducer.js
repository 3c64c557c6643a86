'use strict';

const { EnhancedEventEmitter } = require('./enhancedEvents');
const { Logger } = require('./Logger');
const utils = require('./utils');

const logger = new Logger('DataProducer');

/**
 * A message and its PPID as mediasoup sends them: strings are UTF-8 (PPID 51, or 56 when empty,
 * sent as one space), Buffers binary (53, or 57 when empty, sent as one zero byte).
 */
function encodeMessage(message, ppid) {
	if (typeof message !== 'string' && !Buffer.isBuffer(message)) {
		throw new TypeError('message must be a string or a Buffer');
	}
	if (typeof ppid !== 'number') {
		if (typeof message === 'string') ppid = message.length > 0 ? 51 : 56;
		else ppid = message.length > 0 ? 53 : 57;
	}
	if (ppid === 56) message = ' ';
	else if (ppid === 57) message = Buffer.alloc(1);
	return { ppid, payload: typeof message === 'string' ? Buffer.from(message, 'utf8') : message };
}

/**
 * mediasoup's DataProducer: messages an endpoint sends on an SCTP stream of its transport (or,
 * on a DirectTransport, that the app sends with send()); the worker forwards them to the data
 * consumers.
 */
class DataProducer extends EnhancedEventEmitter {
	#internal;
	#data;
	#channel;
	#closed = false;
	#paused;
	#appData;
	#observer = new EnhancedEventEmitter();

	/** @private */
	constructor({ internal, data, channel, paused, appData }) {
		super();
		logger.debug('constructor()');
		this.#internal = internal;
		this.#data = data;
		this.#channel = channel;
		this.#paused = Boolean(paused);
		this.#appData = appData ?? {};
		this.on('listenererror', (eventName, error) => {
			logger.error(`event listener threw an error [eventName:${eventName}]:`, error);
		});
	}

	get id() {
		return this.#internal.dataProducerId;
	}

	get closed() {
		return this.#closed;
	}

	get type() {
		return this.#data.type;
	}

	get sctpStreamParameters() {
		return utils.clone(this.#data.sctpStreamParameters);
	}

	get label() {
		return this.#data.label;
	}

	get protocol() {
		return this.#data.protocol;
	}

	get paused() {
		return this.#paused;
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

	close() {
		if (this.#closed) {
			return;
		}
		logger.debug('close()');
		this.#closed = true;
		this.#channel
			.request('transport.closeDataProducer', this.#internal.transportId, { dataProducerId: this.#internal.dataProducerId })
			.catch(() => {});
		this.emit('@close');
		this.#observer.safeEmit('close');
	}

	/** @private Its transport closed. */
	transportClosed() {
		if (this.#closed) {
			return;
		}
		logger.debug('transportClosed()');
		this.#closed = true;
		this.safeEmit('transportclose');
		this.#observer.safeEmit('close');
	}

	async dump() {
		logger.debug('dump()');
		return this.#channel.request('dataProducer.dump', this.#internal.dataProducerId);
	}

	async getStats() {
		logger.debug('getStats()');
		return this.#channel.request('dataProducer.getStats', this.#internal.dataProducerId);
	}

	async pause() {
		logger.debug('pause()');
		const wasPaused = this.#paused;
		await this.#channel.request('dataProducer.pause', this.#internal.dataProducerId);
		this.#paused = true;
		if (!wasPaused) this.#observer.safeEmit('pause');
	}

	async resume() {
		logger.debug('resume()');
		const wasPaused = this.#paused;
		await this.#channel.request('dataProducer.resume', this.#internal.dataProducerId);
		this.#paused = false;
		if (wasPaused) this.#observer.safeEmit('resume');
	}

	/**
	 * Sends a message from the app, as if the producer had received it (meant for data
	 * producers of a DirectTransport). Subchannels decide which data consumers get it.
	 */
	send(message, ppid, subchannels, requiredSubchannel, ignoredSubchannel) {
		const encoded = encodeMessage(message, ppid);
		const meta = JSON.stringify({ ppid: encoded.ppid, subchannels: subchannels ?? [], requiredSubchannel, ignoredSubchannel });
		this.#channel.notify('dataProducer.send', this.#internal.dataProducerId, encoded.payload, meta);
	}
}

module.exports = { DataProducer, encodeMessage };
