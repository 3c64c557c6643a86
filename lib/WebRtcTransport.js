'use strict';

const { EnhancedEventEmitter } = require('./enhancedEvents');
const { Logger } = require('./Logger');
const { Transport } = require('./Transport');
const utils = require('./utils');

const logger = new Logger('WebRtcTransport');

const FINGERPRINT_ALGORITHMS = ['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512'];
const DTLS_ROLES = ['auto', 'client', 'server'];

/** mediasoup's WebRtcTransport: ICE-lite + DTLS + SRTP, run by the worker thread. */
class WebRtcTransport extends Transport {
	#data;

	/** @private */
	constructor(options) {
		super(options, new EnhancedEventEmitter());
		const { data } = options;
		this.#data = {
			iceRole: data.iceRole,
			iceParameters: data.iceParameters,
			iceCandidates: data.iceCandidates,
			iceState: data.iceState,
			iceSelectedTuple: data.iceSelectedTuple,
			dtlsParameters: data.dtlsParameters,
			dtlsState: data.dtlsState,
			dtlsRemoteCert: data.dtlsRemoteCert,
		};
		this.initSctp(data);
		this.channel.on(this.internal.transportId, (event, eventData) => this.#onNotification(event, eventData));
	}

	get type() {
		return 'webrtc';
	}

	get iceRole() {
		return this.#data.iceRole;
	}

	get iceParameters() {
		return this.#data.iceParameters;
	}

	get iceCandidates() {
		return utils.clone(this.#data.iceCandidates);
	}

	get iceState() {
		return this.#data.iceState;
	}

	get iceSelectedTuple() {
		return utils.clone(this.#data.iceSelectedTuple);
	}

	get dtlsParameters() {
		return utils.clone(this.#data.dtlsParameters);
	}

	get dtlsState() {
		return this.#data.dtlsState;
	}

	get dtlsRemoteCert() {
		return this.#data.dtlsRemoteCert;
	}

	#markClosed() {
		this.#data.iceState = 'closed';
		this.#data.iceSelectedTuple = undefined;
		this.#data.dtlsState = 'closed';
	}

	close() {
		if (this.closed) {
			return;
		}
		this.#markClosed();
		super.close();
	}

	routerClosed() {
		if (this.closed) {
			return;
		}
		this.#markClosed();
		super.routerClosed();
	}

	listenServerClosed() {
		if (this.closed) {
			return;
		}
		this.#markClosed();
		super.listenServerClosed();
	}

	async connect({ dtlsParameters } = {}) {
		logger.debug('connect()');
		if (!dtlsParameters || typeof dtlsParameters !== 'object') {
			throw new TypeError('missing dtlsParameters');
		}
		if (!Array.isArray(dtlsParameters.fingerprints)) {
			throw new TypeError('missing dtlsParameters.fingerprints');
		}
		const fingerprints = dtlsParameters.fingerprints.map((f) => {
			if (!f || !FINGERPRINT_ALGORITHMS.includes(f.algorithm)) {
				throw new TypeError(`invalid FingerprintAlgorithm: ${f && f.algorithm}`);
			}
			if (typeof f.value !== 'string') {
				throw new TypeError('invalid fingerprint value');
			}
			return { algorithm: f.algorithm, value: f.value };
		});
		const role = dtlsParameters.role ?? 'auto';
		if (!DTLS_ROLES.includes(role)) {
			throw new TypeError(`invalid DtlsRole: ${role}`);
		}
		const { dtlsLocalRole } = await this.channel.request('webRtcTransport.connect', this.internal.transportId, {
			dtlsParameters: { fingerprints, role },
		});
		this.#data.dtlsParameters.role = dtlsLocalRole;
	}

	async restartIce() {
		logger.debug('restartIce()');
		const iceParameters = await this.channel.request('transport.restartIce', this.internal.transportId);
		this.#data.iceParameters = iceParameters;
		return iceParameters;
	}

	#onNotification(event, data) {
		if (this.handleSctpNotification(event, data)) {
			return;
		}
		switch (event) {
			case 'icestatechange': {
				this.#data.iceState = data.iceState;
				this.safeEmit('icestatechange', data.iceState);
				this.observer.safeEmit('icestatechange', data.iceState);
				break;
			}
			case 'iceselectedtuplechange': {
				this.#data.iceSelectedTuple = data.tuple;
				this.safeEmit('iceselectedtuplechange', data.tuple);
				this.observer.safeEmit('iceselectedtuplechange', data.tuple);
				break;
			}
			case 'dtlsstatechange': {
				this.#data.dtlsState = data.dtlsState;
				if (data.dtlsState === 'connected') {
					this.#data.dtlsRemoteCert = data.remoteCert;
				}
				this.safeEmit('dtlsstatechange', data.dtlsState);
				this.observer.safeEmit('dtlsstatechange', data.dtlsState);
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

module.exports = { WebRtcTransport };
