'use strict';

const { EnhancedEventEmitter } = require('./enhancedEvents');
const { Logger } = require('./Logger');
const { UnsupportedError } = require('../errors');
const ortc = require('./ortc');
const utils = require('./utils');

const logger = new Logger('Router');

function notYet(feature) {
	return Promise.reject(new UnsupportedError(`${feature} is not implemented in ferrosoup yet`));
}

/** A mediasoup Router: a room's routing table, living on its worker thread. */
class Router extends EnhancedEventEmitter {
	#internal;
	#data;
	#channel;
	#closed = false;
	#appData;
	#transports = new Map();
	#producers = new Map();
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
		return utils.clone(this.#data.rtpCapabilities);
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
	}

	async dump() {
		logger.debug('dump()');
		return this.#channel.request('router.dump', this.id);
	}

	createWebRtcTransport() {
		return notYet('WebRtcTransport');
	}

	createPlainTransport() {
		return notYet('PlainTransport');
	}

	createPipeTransport() {
		return notYet('PipeTransport');
	}

	createDirectTransport() {
		return notYet('DirectTransport');
	}

	pipeToRouter() {
		return notYet('pipeToRouter()');
	}

	createActiveSpeakerObserver() {
		return notYet('ActiveSpeakerObserver');
	}

	createAudioLevelObserver() {
		return notYet('AudioLevelObserver');
	}

	canConsume({ producerId, rtpCapabilities }) {
		const producer = this.#producers.get(producerId);
		if (!producer) {
			logger.error(`canConsume() | Producer with id "${producerId}" not found`);
			return false;
		}
		try {
			return ortc.canConsume(producer.consumableRtpParameters, rtpCapabilities);
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
		// Keep the worker's copy in step (producers are mapped there).
		this.#channel.request('router.updateRtpCapabilities', this.id, { rtpCapabilities }).catch(() => {});
	}
}

module.exports = { Router };
