'use strict';

const { EnhancedEventEmitter } = require('./enhancedEvents');
const { Logger } = require('./Logger');
const { Transport } = require('./Transport');
const { UnsupportedError } = require('../errors');

const logger = new Logger('DirectTransport');

/**
 * mediasoup's DirectTransport: no network. RTP goes in with `producer.send()` and comes out as
 * each consumer's `rtp` event; RTCP goes in with `sendRtcp()` and comes out as `rtcp` events.
 */
class DirectTransport extends Transport {
	/** @private */
	constructor(options) {
		super(options, new EnhancedEventEmitter());
		this.channel.on(this.internal.transportId, (event, data) => this.#onNotification(event, data));
	}

	get type() {
		return 'direct';
	}

	/** Nothing to connect: resolves at once (no request), as in mediasoup. */
	async connect() {
		logger.debug('connect()');
	}

	async setMaxIncomingBitrate() {
		throw new UnsupportedError('setMaxIncomingBitrate() not implemented in DirectTransport');
	}

	async setMaxOutgoingBitrate() {
		throw new UnsupportedError('setMaxOutgoingBitrate() not implemented in DirectTransport');
	}

	async setMinOutgoingBitrate() {
		throw new UnsupportedError('setMinOutgoingBitrate() not implemented in DirectTransport');
	}

	/** Hands an RTCP packet (or compound) to the transport as if it came from the network. */
	sendRtcp(rtcpPacket) {
		if (!Buffer.isBuffer(rtcpPacket)) {
			throw new TypeError('rtcpPacket must be a Buffer');
		}
		this.channel.notify('transport.sendRtcp', this.internal.transportId, rtcpPacket);
	}

	#onNotification(event, data) {
		switch (event) {
			case 'rtcp': {
				if (!this.closed) {
					this.safeEmit('rtcp', Buffer.from(data, 'base64'));
				}
				break;
			}
			case 'trace': {
				this.safeEmit('trace', data);
				this.observer.safeEmit('trace', data);
				break;
			}
			default:
				logger.error(`ignoring unknown event "${event}"`);
		}
	}
}

module.exports = { DirectTransport };
