'use strict';

const { EnhancedEventEmitter } = require('./enhancedEvents');
const { Logger } = require('./Logger');
const { Transport } = require('./Transport');
const { UnsupportedError } = require('../errors');
const utils = require('./utils');

const logger = new Logger('PipeTransport');

/**
 * mediasoup's PipeTransport. In ferrosoup the pipes that pipeToRouter() creates between workers
 * of this process carry packets in memory from one worker thread to the other (no socket, no
 * SRTP); PipeTransports over UDP are not there yet.
 */
class PipeTransport extends Transport {
	#data;

	/** @private */
	constructor(options) {
		super(options, new EnhancedEventEmitter());
		this.#data = { tuple: options.data.tuple, rtx: Boolean(options.data.rtx) };
	}

	get type() {
		return 'pipe';
	}

	get tuple() {
		return utils.clone(this.#data.tuple);
	}

	get sctpParameters() {
		return undefined;
	}

	get sctpState() {
		return undefined;
	}

	get srtpParameters() {
		return undefined;
	}

	async connect() {
		logger.debug('connect()');
		throw new UnsupportedError('PipeTransport over UDP is not implemented in ferrosoup yet (pipeToRouter between workers of this process is)');
	}

	/** @private Links this in-memory pipe to its peer on another worker. */
	async connectInMemory(peer) {
		await this.channel.request('pipeTransport.connectInMemory', this.internal.transportId, {
			peerWorker: peer.channelForTesting.number,
			peerTransportId: peer.id,
		});
	}

	/** A pipe consumer: every stream of the producer, as it is. */
	async consume({ producerId, appData } = {}) {
		logger.debug('consume()');
		if (!producerId || typeof producerId !== 'string') {
			throw new TypeError('missing producerId');
		}
		return super.consume({ producerId, appData, rtpCapabilities: {}, pipe: true });
	}
}

module.exports = { PipeTransport };
