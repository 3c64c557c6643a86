'use strict';

const { EnhancedEventEmitter } = require('./enhancedEvents');
const { Logger } = require('./Logger');
const { encodeMessage } = require('./DataProducer');
const utils = require('./utils');

const logger = new Logger('DataConsumer');

/**
 * mediasoup's DataConsumer: the messages of a data producer, on an SCTP stream of its transport
 * (or, on a DirectTransport, as 'message' events).
 */
class DataConsumer extends EnhancedEventEmitter {
	#internal;
	#data;
	#channel;
	#closed = false;
	#paused;
	#dataProducerPaused;
	#subchannels;
	#appData;
	#observer = new EnhancedEventEmitter();

	/** @private */
	constructor({ internal, data, channel, paused, dataProducerPaused, subchannels, appData }) {
		super();
		logger.debug('constructor()');
		this.#internal = internal;
		this.#data = data;
		this.#channel = channel;
		this.#paused = Boolean(paused);
		this.#dataProducerPaused = Boolean(dataProducerPaused);
		this.#subchannels = subchannels ?? [];
		this.#appData = appData ?? {};
		this.#channel.on(this.#internal.dataConsumerId, (event, eventData) => this.#onNotification(event, eventData));
		this.on('listenererror', (eventName, error) => {
			logger.error(`event listener threw an error [eventName:${eventName}]:`, error);
		});
	}

	get id() {
		return this.#internal.dataConsumerId;
	}

	get dataProducerId() {
		return this.#data.dataProducerId;
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

	get dataProducerPaused() {
		return this.#dataProducerPaused;
	}

	get subchannels() {
		return [...this.#subchannels];
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
		this.#channel.removeAllListeners(this.#internal.dataConsumerId);
		this.#channel
			.request('transport.closeDataConsumer', this.#internal.transportId, { dataConsumerId: this.#internal.dataConsumerId })
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
		this.#channel.removeAllListeners(this.#internal.dataConsumerId);
		this.safeEmit('transportclose');
		this.#observer.safeEmit('close');
	}

	async dump() {
		logger.debug('dump()');
		return this.#channel.request('dataConsumer.dump', this.#internal.dataConsumerId);
	}

	async getStats() {
		logger.debug('getStats()');
		return this.#channel.request('dataConsumer.getStats', this.#internal.dataConsumerId);
	}

	async pause() {
		logger.debug('pause()');
		const wasPaused = this.#paused;
		await this.#channel.request('dataConsumer.pause', this.#internal.dataConsumerId);
		this.#paused = true;
		if (!wasPaused && !this.#dataProducerPaused) this.#observer.safeEmit('pause');
	}

	async resume() {
		logger.debug('resume()');
		const wasPaused = this.#paused;
		await this.#channel.request('dataConsumer.resume', this.#internal.dataConsumerId);
		this.#paused = false;
		if (wasPaused && !this.#dataProducerPaused) this.#observer.safeEmit('resume');
	}

	async setBufferedAmountLowThreshold(threshold) {
		logger.debug(`setBufferedAmountLowThreshold() [threshold:${threshold}]`);
		await this.#channel.request('dataConsumer.setBufferedAmountLowThreshold', this.#internal.dataConsumerId, { threshold });
	}

	async getBufferedAmount() {
		logger.debug('getBufferedAmount()');
		const { bufferedAmount } = await this.#channel.request('dataConsumer.getBufferedAmount', this.#internal.dataConsumerId);
		return bufferedAmount;
	}

	/** Sends a message to the endpoint (SCTP data consumers); resolves with the buffered amount. */
	async send(message, ppid) {
		const encoded = encodeMessage(message, ppid);
		const { bufferedAmount } = await this.#channel.request('dataConsumer.send', this.#internal.dataConsumerId, {
			ppid: encoded.ppid,
			data: encoded.payload.toString('base64'),
		});
		return bufferedAmount;
	}

	async setSubchannels(subchannels) {
		const data = await this.#channel.request('dataConsumer.setSubchannels', this.#internal.dataConsumerId, { subchannels });
		this.#subchannels = data.subchannels;
	}

	async addSubchannel(subchannel) {
		const data = await this.#channel.request('dataConsumer.addSubchannel', this.#internal.dataConsumerId, { subchannel });
		this.#subchannels = data.subchannels;
	}

	async removeSubchannel(subchannel) {
		const data = await this.#channel.request('dataConsumer.removeSubchannel', this.#internal.dataConsumerId, { subchannel });
		this.#subchannels = data.subchannels;
	}

	#onNotification(event, data) {
		switch (event) {
			case 'dataproducerclose': {
				if (this.#closed) break;
				this.#closed = true;
				this.#channel.removeAllListeners(this.#internal.dataConsumerId);
				this.emit('@dataproducerclose');
				this.safeEmit('dataproducerclose');
				this.#observer.safeEmit('close');
				break;
			}
			case 'dataproducerpause': {
				if (this.#dataProducerPaused) break;
				this.#dataProducerPaused = true;
				this.safeEmit('dataproducerpause');
				if (!this.#paused) this.#observer.safeEmit('pause');
				break;
			}
			case 'dataproducerresume': {
				if (!this.#dataProducerPaused) break;
				this.#dataProducerPaused = false;
				this.safeEmit('dataproducerresume');
				if (!this.#paused) this.#observer.safeEmit('resume');
				break;
			}
			case 'message': {
				if (this.#closed) break;
				this.safeEmit('message', Buffer.from(data.data, 'base64'), data.ppid);
				break;
			}
			case 'bufferedamountlow': {
				this.safeEmit('bufferedamountlow', data.bufferedAmount);
				break;
			}
			case 'sctpsendbufferfull': {
				this.safeEmit('sctpsendbufferfull');
				break;
			}
			default:
				logger.error(`ignoring unknown event "${event}"`);
		}
	}
}

module.exports = { DataConsumer };
