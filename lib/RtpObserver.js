'use strict';

const { EnhancedEventEmitter } = require('./enhancedEvents');
const { Logger } = require('./Logger');
const { NotFoundError } = require('../errors');

const logger = new Logger('RtpObserver');

/**
 * What mediasoup's AudioLevelObserver and ActiveSpeakerObserver share: producers are added and
 * removed, the observer pauses and resumes; it lives on the router's worker thread.
 */
class RtpObserver extends EnhancedEventEmitter {
	#internal;
	#channel;
	#closed = false;
	#paused = false;
	#appData;
	#observer = new EnhancedEventEmitter();

	/** @private */
	constructor({ internal, channel, appData, getProducerById }) {
		super();
		this.#internal = internal;
		this.#channel = channel;
		this.#appData = appData ?? {};
		this.getProducerById = getProducerById;
		this.on('listenererror', (eventName, error) => {
			logger.error(`event listener threw an error [eventName:${eventName}]:`, error);
		});
		this.#channel.on(this.#internal.rtpObserverId, (event, data) => this.onNotification(event, data));
	}

	get id() {
		return this.#internal.rtpObserverId;
	}

	get closed() {
		return this.#closed;
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

	/** @private */
	get channel() {
		return this.#channel;
	}

	close() {
		if (this.#closed) {
			return;
		}
		logger.debug('close()');
		this.#closed = true;
		this.#channel.removeAllListeners(this.#internal.rtpObserverId);
		this.#channel.request('router.closeRtpObserver', this.#internal.routerId, { rtpObserverId: this.#internal.rtpObserverId }).catch(() => {});
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
		this.#channel.removeAllListeners(this.#internal.rtpObserverId);
		this.safeEmit('routerclose');
		this.#observer.safeEmit('close');
	}

	async pause() {
		logger.debug('pause()');
		const wasPaused = this.#paused;
		await this.#channel.request('rtpObserver.pause', this.#internal.rtpObserverId);
		this.#paused = true;
		if (!wasPaused) {
			this.#observer.safeEmit('pause');
		}
	}

	async resume() {
		logger.debug('resume()');
		const wasPaused = this.#paused;
		await this.#channel.request('rtpObserver.resume', this.#internal.rtpObserverId);
		this.#paused = false;
		if (wasPaused) {
			this.#observer.safeEmit('resume');
		}
	}

	async addProducer({ producerId } = {}) {
		logger.debug('addProducer()');
		const producer = this.#producer(producerId);
		await this.#channel.request('rtpObserver.addProducer', this.#internal.rtpObserverId, { producerId });
		this.#observer.safeEmit('addproducer', producer);
	}

	async removeProducer({ producerId } = {}) {
		logger.debug('removeProducer()');
		const producer = this.#producer(producerId);
		await this.#channel.request('rtpObserver.removeProducer', this.#internal.rtpObserverId, { producerId });
		this.#observer.safeEmit('removeproducer', producer);
	}

	#producer(producerId) {
		const producer = this.getProducerById(producerId);
		if (!producer) {
			throw new NotFoundError(`Producer with id "${producerId}" not found`);
		}
		return producer;
	}

	/** @private Subclasses handle their events. */
	onNotification(event) {
		logger.error(`ignoring unknown event "${event}"`);
	}
}

module.exports = { RtpObserver };
