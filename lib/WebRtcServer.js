'use strict';

const { EnhancedEventEmitter } = require('./enhancedEvents');
const { Logger } = require('./Logger');

const logger = new Logger('WebRtcServer');

/**
 * mediasoup's WebRtcServer: UDP/TCP sockets on the worker thread shared by every
 * WebRtcTransport created with it (one port for a whole worker). The worker routes a STUN
 * check by the username fragment it names and everything else by the validated 5-tuple.
 */
class WebRtcServer extends EnhancedEventEmitter {
	#id;
	#channel;
	#closed = false;
	#appData;
	/** Transports created with this server, by id. */
	#webRtcTransports = new Map();
	#observer = new EnhancedEventEmitter();

	/** @private Use worker.createWebRtcServer(). */
	constructor({ webRtcServerId, channel, appData }) {
		super();
		logger.debug('constructor()');
		this.#id = webRtcServerId;
		this.#channel = channel;
		this.#appData = appData ?? {};
		this.on('listenererror', (eventName, error) => {
			logger.error(`event listener threw an error [eventName:${eventName}]:`, error);
		});
	}

	get id() {
		return this.#id;
	}

	get closed() {
		return this.#closed;
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

	/** @private Which worker thread it lives on. */
	get workerNumber() {
		return this.#channel.number;
	}

	/** @private */
	get webRtcTransportsForTesting() {
		return this.#webRtcTransports;
	}

	/** Closes the server and, with it, every transport using it ('listenserverclose'). */
	close() {
		if (this.#closed) {
			return;
		}
		logger.debug('close()');
		this.#closed = true;
		this.#channel.request('worker.closeWebRtcServer', '', { webRtcServerId: this.#id }).catch(() => {});
		for (const transport of this.#webRtcTransports.values()) {
			transport.listenServerClosed();
			this.#observer.safeEmit('webrtctransportunhandled', transport);
		}
		this.#webRtcTransports.clear();
		this.emit('@close');
		this.#observer.safeEmit('close');
	}

	/** @private The worker closed: its routers close the transports. */
	workerClosed() {
		if (this.#closed) {
			return;
		}
		logger.debug('workerClosed()');
		this.#closed = true;
		this.#webRtcTransports.clear();
		this.safeEmit('workerclose');
		this.#observer.safeEmit('close');
	}

	async dump() {
		logger.debug('dump()');
		const d = await this.#channel.request('webRtcServer.dump', this.#id);
		return {
			id: d.id,
			udpSockets: d.udpSockets,
			tcpServers: d.tcpServers,
			webRtcTransportIds: d.webRtcTransportIds,
			localIceUsernameFragments: d.localIceUsernameFragments,
			// ferrosoup: what the shared sockets dropped, by reason.
			drops: d.drops,
		};
	}

	/** @private A transport was created with this server. */
	handleWebRtcTransport(transport) {
		this.#webRtcTransports.set(transport.id, transport);
		this.#observer.safeEmit('webrtctransporthandled', transport);
		transport.on('@close', () => {
			this.#webRtcTransports.delete(transport.id);
			this.#observer.safeEmit('webrtctransportunhandled', transport);
		});
	}
}

module.exports = { WebRtcServer };
