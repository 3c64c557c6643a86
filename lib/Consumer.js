'use strict';

const { EnhancedEventEmitter } = require('./enhancedEvents');
const { Logger } = require('./Logger');
const { traceTypes } = require('./Producer');
const utils = require('./utils');

const logger = new Logger('Consumer');

const TRACE_EVENT_TYPES = ['rtp', 'keyframe', 'nack', 'pli', 'fir'];

/** Layers as mediasoup shows them: null/absent becomes undefined, so does a missing temporal layer. */
function toLayers(layers) {
	if (!layers) {
		return undefined;
	}
	return { spatialLayer: layers.spatialLayer, temporalLayer: layers.temporalLayer ?? undefined };
}

/**
 * mediasoup's Consumer: one producer's media forwarded to an endpoint through a transport.
 *
 * Events: 'transportclose', 'producerclose', 'producerpause', 'producerresume',
 * 'score' (score), 'layerschange' (layers?), 'trace' (trace), '@close', '@producerclose'.
 * Observer events: 'close', 'pause', 'resume', 'score', 'layerschange', 'trace'.
 *
 * The observer's 'pause'/'resume' follow whether media flows: they fire when the consumer or
 * its producer pauses while the other side was running, and on resume only when the other side
 * is not paused.
 */
class Consumer extends EnhancedEventEmitter {
	#internal;
	#data;
	#rtpParametersCopies;
	#channel;
	#closed = false;
	#appData;
	#paused;
	#producerPaused;
	#priority = 1;
	#score;
	#preferredLayers;
	#currentLayers;
	#observer = new EnhancedEventEmitter();

	/** @private */
	constructor({
		internal,
		data,
		channel,
		appData,
		paused,
		producerPaused,
		score,
		preferredLayers,
		priority,
	}) {
		super();
		logger.debug('constructor()');
		this.#internal = internal;
		this.#data = data;
		this.#channel = channel;
		this.#appData = appData ?? {};
		this.#paused = Boolean(paused);
		this.#producerPaused = Boolean(producerPaused);
		this.#score = score ?? { score: 10, producerScore: 10, producerScores: [] };
		this.#preferredLayers = toLayers(preferredLayers);
		if (typeof priority === 'number') {
			this.#priority = priority;
		}
		this.#channel.on(this.#internal.consumerId, (event, eventData) => this.#onNotification(event, eventData));
		this.on('listenererror', (eventName, error) => {
			logger.error(`event listener threw an error [eventName:${eventName}]:`, error);
		});
	}

	get id() {
		return this.#internal.consumerId;
	}

	get producerId() {
		return this.#data.producerId;
	}

	get closed() {
		return this.#closed;
	}

	get kind() {
		return this.#data.kind;
	}

	get rtpParameters() {
		// Apps send these to the consuming client.
		this.#rtpParametersCopies ??= new utils.JsonCopies(this.#data.rtpParameters);
		return this.#rtpParametersCopies.copy();
	}

	get type() {
		return this.#data.type;
	}

	get paused() {
		return this.#paused;
	}

	get producerPaused() {
		return this.#producerPaused;
	}

	get priority() {
		return this.#priority;
	}

	get score() {
		return utils.clone(this.#score);
	}

	get preferredLayers() {
		return utils.clone(this.#preferredLayers);
	}

	get currentLayers() {
		return utils.clone(this.#currentLayers);
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
		return this.#channel;
	}

	close() {
		if (this.#closed) {
			return;
		}
		logger.debug('close()');
		this.#closed = true;
		this.#channel.removeAllListeners(this.#internal.consumerId);
		this.#channel
			.request('transport.closeConsumer', this.#internal.transportId, { consumerId: this.#internal.consumerId })
			.catch(() => {});
		this.emit('@close');
		this.#observer.safeEmit('close');
	}

	/** @private Its transport closed (or the transport's router, or worker). */
	transportClosed() {
		if (this.#closed) {
			return;
		}
		logger.debug('transportClosed()');
		this.#closed = true;
		this.#channel.removeAllListeners(this.#internal.consumerId);
		this.safeEmit('transportclose');
		this.#observer.safeEmit('close');
	}

	async dump() {
		logger.debug('dump()');
		return this.#channel.request('consumer.dump', this.#internal.consumerId);
	}

	async getStats() {
		logger.debug('getStats()');
		return this.#channel.request('consumer.getStats', this.#internal.consumerId);
	}

	async pause() {
		logger.debug('pause()');
		await this.#channel.request('consumer.pause', this.#internal.consumerId);
		const wasPaused = this.#paused;
		this.#paused = true;
		if (!wasPaused && !this.#producerPaused) {
			this.#observer.safeEmit('pause');
		}
	}

	async resume() {
		logger.debug('resume()');
		await this.#channel.request('consumer.resume', this.#internal.consumerId);
		const wasPaused = this.#paused;
		this.#paused = false;
		if (wasPaused && !this.#producerPaused) {
			this.#observer.safeEmit('resume');
		}
	}

	async setPreferredLayers({ spatialLayer, temporalLayer }) {
		logger.debug('setPreferredLayers()');
		if (typeof spatialLayer !== 'number') {
			throw new TypeError('spatialLayer must be a number');
		}
		if (temporalLayer !== undefined && temporalLayer !== null && typeof temporalLayer !== 'number') {
			throw new TypeError('if given, temporalLayer must be a number');
		}
		const answer = await this.#channel.request('consumer.setPreferredLayers', this.#internal.consumerId, {
			spatialLayer,
			temporalLayer: temporalLayer ?? undefined,
		});
		// No layers in the answer for consumers that have none to choose from (simple ones).
		this.#preferredLayers = toLayers(answer);
	}

	async setPriority(priority) {
		logger.debug('setPriority()');
		if (typeof priority !== 'number' || priority < 0) {
			throw new TypeError('priority must be a positive number');
		}
		const answer = await this.#channel.request('consumer.setPriority', this.#internal.consumerId, { priority });
		this.#priority = answer.priority;
	}

	async unsetPriority() {
		logger.debug('unsetPriority()');
		await this.setPriority(1);
	}

	async requestKeyFrame() {
		logger.debug('requestKeyFrame()');
		await this.#channel.request('consumer.requestKeyFrame', this.#internal.consumerId);
	}

	async enableTraceEvent(types = []) {
		logger.debug('enableTraceEvent()');
		const known = traceTypes(types, TRACE_EVENT_TYPES);
		await this.#channel.request('consumer.enableTraceEvent', this.#internal.consumerId, { types: known });
	}

	#onNotification(event, data) {
		switch (event) {
			case 'producerclose': {
				if (this.#closed) {
					break;
				}
				logger.debug('producer closed');
				this.#closed = true;
				// The worker already dropped this consumer: nothing to ask it.
				this.#channel.removeAllListeners(this.#internal.consumerId);
				this.emit('@producerclose');
				this.safeEmit('producerclose');
				this.#observer.safeEmit('close');
				break;
			}
			case 'producerpause': {
				if (this.#producerPaused) {
					break;
				}
				this.#producerPaused = true;
				this.safeEmit('producerpause');
				if (!this.#paused) {
					this.#observer.safeEmit('pause');
				}
				break;
			}
			case 'producerresume': {
				if (!this.#producerPaused) {
					break;
				}
				this.#producerPaused = false;
				this.safeEmit('producerresume');
				if (!this.#paused) {
					this.#observer.safeEmit('resume');
				}
				break;
			}
			case 'score': {
				const score = {
					score: data.score,
					producerScore: data.producerScore,
					producerScores: data.producerScores ?? [],
				};
				this.#score = score;
				this.safeEmit('score', score);
				this.#observer.safeEmit('score', score);
				break;
			}
			case 'layerschange': {
				const layers = toLayers(data);
				this.#currentLayers = layers;
				this.safeEmit('layerschange', layers);
				this.#observer.safeEmit('layerschange', layers);
				break;
			}
			case 'trace': {
				this.safeEmit('trace', data);
				this.#observer.safeEmit('trace', data);
				break;
			}
			case 'rtp': {
				// A DirectTransport consumer's packet (base64 in the event).
				if (!this.closed) {
					this.safeEmit('rtp', Buffer.from(data, 'base64'));
				}
				break;
			}
			default:
				logger.error(`ignoring unknown event "${event}"`);
		}
	}
}

module.exports = { Consumer };
