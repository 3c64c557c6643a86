'use strict';

const { EnhancedEventEmitter } = require('./enhancedEvents');
const { Logger } = require('./Logger');
const { Channel } = require('./Channel');
const { Router } = require('./Router');
const { WebRtcServer } = require('./WebRtcServer');
const { checkKeyFrameCache } = require('./Transport');
const utils = require('./utils');

const logger = new Logger('Worker');

/**
 * A mediasoup Worker. In ferrosoup it is a native thread of this process with its own event
 * loop (not a subprocess): `pid` is that thread's kernel id (unique per worker; signalling it
 * signals the whole process).
 */
class Worker extends EnhancedEventEmitter {
	#channel;
	#closed = false;
	#died = false;
	#subprocessClosed = false;
	#appData;
	#routers = new Set();
	#webRtcServers = new Set();
	#observer = new EnhancedEventEmitter();

	/** @private Use createWorker(). Throws TypeError for invalid settings. */
	constructor({ settings, appData }) {
		super();
		logger.debug('constructor()');
		this.#appData = appData ?? {};
		this.#channel = new Channel(settings);
		let running = false;
		this.#channel.once('@running', () => {
			running = true;
			logger.debug(`worker thread running [worker:${this.#channel.number}]`);
			this.emit('@success');
		});
		this.#channel.once('@died', (reason) => {
			if (!running) {
				running = true;
				this.#closed = true;
				this.#channel.close();
				this.emit('@failure', new Error(reason));
				return;
			}
			logger.error(`worker thread died unexpectedly [worker:${this.#channel.number}]: ${reason}`);
			this.workerDied(new Error(reason));
		});
		this.#channel.once('@exited', () => {
			logger.debug(`worker thread ended [worker:${this.#channel.number}]`);
			if (!this.#subprocessClosed) {
				this.#subprocessClosed = true;
				this.safeEmit('subprocessclose');
			}
		});
		this.on('listenererror', (eventName, error) => {
			logger.error(`event listener threw an error [eventName:${eventName}]:`, error);
		});
	}

	get pid() {
		return this.#channel.workerPid ?? process.pid;
	}

	get closed() {
		return this.#closed;
	}

	get died() {
		return this.#died;
	}

	get subprocessClosed() {
		return this.#subprocessClosed;
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
	get routersForTesting() {
		return this.#routers;
	}

	/** @private */
	get webRtcServersForTesting() {
		return this.#webRtcServers;
	}

	close() {
		if (this.#closed) {
			return;
		}
		logger.debug('close()');
		this.#closed = true;
		for (const router of this.#routers) {
			router.workerClosed();
		}
		this.#routers.clear();
		for (const server of this.#webRtcServers) {
			server.workerClosed();
		}
		this.#webRtcServers.clear();
		// The thread ends on its own; 'subprocessclose' follows when it has.
		this.#channel.close();
		this.#observer.safeEmit('close');
	}

	async dump() {
		logger.debug('dump()');
		return this.#channel.request('worker.dump');
	}

	async getResourceUsage() {
		logger.debug('getResourceUsage()');
		return this.#channel.request('worker.getResourceUsage');
	}

	async updateSettings({ logLevel, logTags } = {}) {
		logger.debug('updateSettings()');
		await this.#channel.request('worker.updateSettings', '', { logLevel, logTags });
	}

	/**
	 * One set of UDP/TCP sockets for every WebRtcTransport created with it (the worker thread
	 * routes packets to transports). Listen infos are checked by the worker.
	 */
	async createWebRtcServer({ listenInfos, appData }) {
		logger.debug('createWebRtcServer()');
		utils.checkAppData(appData);
		if (!listenInfos || typeof listenInfos[Symbol.iterator] !== 'function') {
			throw new TypeError('listenInfos is not iterable');
		}
		const webRtcServerId = utils.generateUUIDv4();
		await this.#channel.request('worker.createWebRtcServer', '', { webRtcServerId, listenInfos: [...listenInfos] });
		const server = new WebRtcServer({ webRtcServerId, channel: this.#channel, appData });
		this.#webRtcServers.add(server);
		server.on('@close', () => this.#webRtcServers.delete(server));
		this.#observer.safeEmit('newwebrtcserver', server);
		return server;
	}

	async createRouter({ mediaCodecs, appData, keyFrameCache } = {}) {
		logger.debug('createRouter()');
		utils.checkAppData(appData);
		checkKeyFrameCache(keyFrameCache);
		const routerId = utils.generateUUIDv4();
		// The worker thread validates the codecs and computes the capabilities (off this thread).
		const { rtpCapabilities } = await this.#channel.request('worker.createRouter', '', {
			routerId,
			mediaCodecs,
			keyFrameCache,
		});
		const router = new Router({
			internal: { routerId },
			data: { rtpCapabilities },
			channel: this.#channel,
			appData,
		});
		this.#routers.add(router);
		router.on('@close', () => this.#routers.delete(router));
		this.#observer.safeEmit('newrouter', router);
		return router;
	}

	/** @private Called when the thread panicked. */
	workerDied(error) {
		if (this.#closed) {
			return;
		}
		logger.debug(`workerDied() [error:${error}]`);
		this.#closed = true;
		this.#died = true;
		this.#subprocessClosed = true;
		this.#channel.close();
		for (const router of this.#routers) {
			router.workerClosed();
		}
		this.#routers.clear();
		for (const server of this.#webRtcServers) {
			server.workerClosed();
		}
		this.#webRtcServers.clear();
		this.safeEmit('died', error);
		this.safeEmit('subprocessclose');
		this.#observer.safeEmit('close');
	}

	/**
	 * @private Test-only: makes the worker thread panic. Honoured only when the process runs
	 * with FERROSOUP_TEST_HOOKS=1.
	 */
	panicForTesting() {
		return this.#channel.request('worker.panicForTesting');
	}
}

module.exports = { Worker };
