'use strict';

const { EnhancedEventEmitter } = require('./enhancedEvents');
const { Logger } = require('./Logger');
const { Transport } = require('./Transport');
const utils = require('./utils');

const logger = new Logger('PlainTransport');

const SRTP_CRYPTO_SUITES = ['AEAD_AES_256_GCM', 'AEAD_AES_128_GCM', 'AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'];

/** mediasoup's shape of a tuple (`remoteIp` undefined and `remotePort` 0 until known). */
function tuple(t) {
	if (!t) return undefined;
	return {
		localIp: t.localIp,
		localAddress: t.localAddress,
		localPort: t.localPort,
		remoteIp: t.remoteIp,
		remotePort: t.remotePort ?? 0,
		protocol: t.protocol,
	};
}

function checkSrtpCryptoSuite(suite) {
	if (!SRTP_CRYPTO_SUITES.includes(suite)) {
		throw new TypeError(`invalid SrtpCryptoSuite: ${suite}`);
	}
	return suite;
}

/**
 * mediasoup's PlainTransport: RTP/RTCP over UDP (optionally SRTP with keys the app exchanges)
 * with one remote endpoint, given to connect() or learned from the first packet (`comedia`).
 * What ffmpeg, GStreamer and recorders speak.
 */
class PlainTransport extends Transport {
	#data;

	/** @private */
	constructor(options) {
		super(options, new EnhancedEventEmitter());
		const { data } = options;
		this.#data = {
			rtcpMux: data.rtcpMux,
			comedia: data.comedia,
			tuple: tuple(data.tuple),
			rtcpTuple: tuple(data.rtcpTuple),
			srtpParameters: data.srtpParameters,
		};
		this.initSctp(data);
		this.channel.on(this.internal.transportId, (event, eventData) => this.#onNotification(event, eventData));
	}

	get type() {
		return 'plain';
	}

	get tuple() {
		return utils.clone(this.#data.tuple);
	}

	get rtcpTuple() {
		return utils.clone(this.#data.rtcpTuple);
	}

	get srtpParameters() {
		return utils.clone(this.#data.srtpParameters);
	}

	async dump() {
		const d = await super.dump();
		return { ...d, tuple: tuple(d.tuple), rtcpTuple: tuple(d.rtcpTuple) };
	}

	async getStats() {
		const stats = await super.getStats();
		return stats.map((s) => ({ ...s, tuple: tuple(s.tuple), rtcpTuple: tuple(s.rtcpTuple) }));
	}

	/**
	 * Names the remote endpoint (`ip`, `port`, and `rtcpPort` without rtcpMux; ignored with
	 * comedia) and, with SRTP, the remote key.
	 */
	async connect({ ip, port, rtcpPort, srtpParameters }) {
		logger.debug('connect()');
		if (srtpParameters) {
			checkSrtpCryptoSuite(srtpParameters.cryptoSuite);
			if (typeof srtpParameters.keyBase64 !== 'string') {
				throw new TypeError('missing srtpParameters.keyBase64');
			}
		}
		const data = await this.channel.request('plainTransport.connect', this.internal.transportId, {
			ip: ip || undefined,
			port: typeof port === 'number' ? port : undefined,
			rtcpPort: typeof rtcpPort === 'number' ? rtcpPort : undefined,
			srtpParameters: srtpParameters ? { cryptoSuite: srtpParameters.cryptoSuite, keyBase64: srtpParameters.keyBase64 } : undefined,
		});
		if (data.tuple) this.#data.tuple = tuple(data.tuple);
		if (data.rtcpTuple) this.#data.rtcpTuple = tuple(data.rtcpTuple);
		if (data.srtpParameters) this.#data.srtpParameters = data.srtpParameters;
	}

	#onNotification(event, data) {
		if (this.handleSctpNotification(event, data)) {
			return;
		}
		switch (event) {
			case 'tuple': {
				this.#data.tuple = tuple(data.tuple);
				this.safeEmit('tuple', this.tuple);
				this.observer.safeEmit('tuple', this.tuple);
				break;
			}
			case 'rtcptuple': {
				this.#data.rtcpTuple = tuple(data.tuple);
				this.safeEmit('rtcptuple', this.rtcpTuple);
				this.observer.safeEmit('rtcptuple', this.rtcpTuple);
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

module.exports = { PlainTransport, checkSrtpCryptoSuite };
