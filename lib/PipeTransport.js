'use strict';

const { EnhancedEventEmitter } = require('./enhancedEvents');
const { Logger } = require('./Logger');
const { Transport } = require('./Transport');
const utils = require('./utils');

const logger = new Logger('PipeTransport');

/**
 * mediasoup's PipeTransport. createPipeTransport() gives one over UDP (plain RTP/RTCP, or SRTP
 * with keys the app exchanges, as mediasoup); the pipes that pipeToRouter() creates between
 * routers of this process carry packets in memory from one worker thread to the other.
 */
class PipeTransport extends Transport {
	#data;

	/** @private */
	constructor(options) {
		super(options, new EnhancedEventEmitter());
		this.#data = {
			tuple: options.data.tuple,
			rtx: Boolean(options.data.rtx),
			srtpParameters: options.data.srtpParameters,
		};
		this.initSctp(options.data);
		this.channel.on(this.internal.transportId, (event, data) => this.#onNotification(event, data));
	}

	#onNotification(event, data) {
		if (this.handleSctpNotification(event, data)) {
			return;
		}
		switch (event) {
			case 'trace': {
				this.safeEmit('trace', data);
				this.observer.safeEmit('trace', data);
				break;
			}
			default:
				logger.error(`ignoring unknown event "${event}"`);
		}
	}

	get type() {
		return 'pipe';
	}

	get tuple() {
		return utils.clone(this.#data.tuple);
	}

	get srtpParameters() {
		return utils.clone(this.#data.srtpParameters);
	}

	/** Names the remote PipeTransport (and its SRTP key when SRTP is on). */
	async connect({ ip, port, srtpParameters } = {}) {
		logger.debug('connect()');
		const data = await this.channel.request('pipeTransport.connect', this.internal.transportId, { ip, port, srtpParameters });
		if (data?.tuple) {
			this.#data.tuple = data.tuple;
		}
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
		utils.checkAppData(appData);
		return super.consume({ producerId, appData, rtpCapabilities: {}, pipe: true });
	}
}

module.exports = { PipeTransport };
