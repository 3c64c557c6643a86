'use strict';

const { EnhancedEventEmitter } = require('./enhancedEvents');
const { Logger } = require('./Logger');
const utils = require('./utils');

const logger = new Logger('Producer');

const TRACE_EVENT_TYPES = ['rtp', 'keyframe', 'nack', 'pli', 'fir', 'sr'];

/**
 * Checks the argument of enableTraceEvent() as mediasoup does and keeps the known types
 * (unknown ones are dropped with a warning, not an error).
 */
function traceTypes(types, known) {
	if (!Array.isArray(types)) {
		throw new TypeError('types must be an array');
	}
	if (types.some((type) => typeof type !== 'string')) {
		throw new TypeError('every type must be a string');
	}
	return types.filter((type) => {
		if (known.includes(type)) {
			return true;
		}
		logger.warn(`enableTraceEvent() | ignoring unknown type "${type}"`);
		return false;
	});
}

/**
 * mediasoup's Producer: media an endpoint sends into a transport. The RTP work happens on the
 * worker thread; this object mirrors its state and relays its notifications.
 *
 * Events: 'transportclose', 'score' (score[]), 'videoorientationchange' (orientation),
 * 'trace' (trace), '@close'.
 * Observer events: 'close', 'pause', 'resume', 'score', 'videoorientationchange', 'trace'.
 */
class Producer extends EnhancedEventEmitter {
	#internal;
	#data;
	#consumableJson;
	#channel;
	#closed = false;
	#paused;
	#appData;
	#score = [];
	#observer = new EnhancedEventEmitter();

	/** @private */
	constructor({ internal, data, channel, appData, paused }) {
		super();
		logger.debug('constructor()');
		this.#internal = internal;
		this.#data = data;
		this.#channel = channel;
		this.#paused = Boolean(paused);
		this.#appData = appData ?? {};
		this.#channel.on(this.#internal.producerId, (event, eventData) => this.#onNotification(event, eventData));
		this.on('listenererror', (eventName, error) => {
			logger.error(`event listener threw an error [eventName:${eventName}]:`, error);
		});
	}

	get id() {
		return this.#internal.producerId;
	}

	get closed() {
		return this.#closed;
	}

	get kind() {
		return this.#data.kind;
	}

	get rtpParameters() {
		return utils.clone(this.#data.rtpParameters);
	}

	get type() {
		return this.#data.type;
	}

	/** What consumers of this producer are derived from (router payload types and SSRCs). */
	get consumableRtpParameters() {
		return utils.clone(this.#data.consumableRtpParameters);
	}

	/** @private The consumable parameters as JSON, serialized once (router.canConsume()). */
	get consumableRtpParametersJson() {
		this.#consumableJson ??= JSON.stringify(this.#data.consumableRtpParameters);
		return this.#consumableJson;
	}

	get paused() {
		return this.#paused;
	}

	get score() {
		return utils.clone(this.#score);
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
		this.#channel.removeAllListeners(this.#internal.producerId);
		this.#channel
			.request('transport.closeProducer', this.#internal.transportId, { producerId: this.#internal.producerId })
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
		this.#channel.removeAllListeners(this.#internal.producerId);
		this.safeEmit('transportclose');
		this.#observer.safeEmit('close');
	}

	async dump() {
		logger.debug('dump()');
		return this.#channel.request('producer.dump', this.#internal.producerId);
	}

	async getStats() {
		logger.debug('getStats()');
		return this.#channel.request('producer.getStats', this.#internal.producerId);
	}

	async pause() {
		logger.debug('pause()');
		await this.#channel.request('producer.pause', this.#internal.producerId);
		const wasPaused = this.#paused;
		this.#paused = true;
		if (!wasPaused) {
			this.#observer.safeEmit('pause');
		}
	}

	async resume() {
		logger.debug('resume()');
		await this.#channel.request('producer.resume', this.#internal.producerId);
		const wasPaused = this.#paused;
		this.#paused = false;
		if (wasPaused) {
			this.#observer.safeEmit('resume');
		}
	}

	async enableTraceEvent(types = []) {
		logger.debug('enableTraceEvent()');
		const known = traceTypes(types, TRACE_EVENT_TYPES);
		await this.#channel.request('producer.enableTraceEvent', this.#internal.producerId, { types: known });
	}

	/**
	 * Injects an RTP packet into this producer's transport (meant for DirectTransport
	 * producers). As in mediasoup, the transport's RTP listener decides which producer it is
	 * for; malformed or unknown packets are dropped by the worker.
	 */
	send(rtpPacket) {
		if (!Buffer.isBuffer(rtpPacket)) {
			throw new TypeError('rtpPacket must be a Buffer');
		}
		this.#channel.notify('producer.send', this.#internal.producerId, rtpPacket);
	}

	#onNotification(event, data) {
		switch (event) {
			case 'score': {
				// Same shape as mediasoup's (rid present, undefined when the stream has none).
				const score = (data?.score ?? []).map(({ encodingIdx, ssrc, rid, score: value }) => ({
					encodingIdx,
					ssrc,
					rid: rid ?? undefined,
					score: value,
				}));
				this.#score = score;
				this.safeEmit('score', score);
				this.#observer.safeEmit('score', score);
				break;
			}
			case 'videoorientationchange': {
				this.safeEmit('videoorientationchange', data);
				this.#observer.safeEmit('videoorientationchange', data);
				break;
			}
			case 'trace': {
				this.safeEmit('trace', data);
				this.#observer.safeEmit('trace', data);
				break;
			}
			default:
				logger.error(`ignoring unknown event "${event}"`);
		}
	}
}

module.exports = { Producer, traceTypes };
