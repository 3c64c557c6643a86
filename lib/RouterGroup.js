'use strict';

const { EnhancedEventEmitter } = require('./enhancedEvents');
const { Logger } = require('./Logger');
const utils = require('./utils');

const logger = new Logger('RouterGroup');

/**
 * One room over several worker threads (ferrosoup extension). It has a Router's API: transports
 * are created on the member router (one per worker) with the fewest transports, and consuming a
 * producer that lives on another member first pipes it there in memory (once per producer and
 * member). Producer ids stay the same on every member, so the app never sees the pipes.
 */
class RouterGroup extends EnhancedEventEmitter {
	#id = utils.generateUUIDv4();
	#routers;
	#load = new Map();
	#pipes = new Map();
	#closed = false;
	#appData;
	#observer = new EnhancedEventEmitter();

	/** @private Use createRouterGroup(). */
	constructor({ routers, appData }) {
		super();
		this.#routers = routers;
		this.#appData = appData ?? {};
		for (const router of routers) {
			this.#load.set(router, 0);
			router.observer.on('close', () => this.#onMemberClosed());
		}
	}

	get id() {
		return this.#id;
	}

	get closed() {
		return this.#closed;
	}

	get rtpCapabilities() {
		return this.#routers[0].rtpCapabilities;
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

	/** The member routers, one per worker. */
	get routers() {
		return [...this.#routers];
	}

	close() {
		if (this.#closed) return;
		this.#closed = true;
		for (const router of this.#routers) router.close();
		this.#observer.safeEmit('close');
	}

	#onMemberClosed() {
		if (this.#closed) return;
		// A worker died or a member was closed directly: the room is broken, close it whole.
		logger.warn('a member router closed, closing the group');
		this.close();
		this.safeEmit('workerclose');
	}

	async dump() {
		const dumps = await Promise.all(this.#routers.map((r) => r.dump()));
		return { id: this.#id, routers: dumps };
	}

	/** The member with the fewest live transports (among `members`). */
	#pick(members = this.#routers) {
		let best = members[0];
		for (const r of members) {
			if (this.#load.get(r) < this.#load.get(best)) best = r;
		}
		return best;
	}

	/**
	 * As router.createWebRtcTransport(). `webRtcServer` may also be a list of servers (one per
	 * worker, ferrosoup extension): the transport goes to the least loaded member whose worker
	 * has one of them, and uses that one.
	 */
	async createWebRtcTransport(options = {}) {
		if (this.#closed) throw new Error('RouterGroup closed');
		let router;
		if (options && options.webRtcServer) {
			const servers = [options.webRtcServer].flat();
			const members = this.#routers.filter((r) => servers.some((s) => s.workerNumber === r.workerNumber));
			if (members.length === 0) {
				throw new TypeError('no webRtcServer on the workers of this group');
			}
			router = this.#pick(members);
			options = { ...options, webRtcServer: servers.find((s) => s.workerNumber === router.workerNumber) };
		} else {
			router = this.#pick();
		}
		return this.#place(router, (r) => r.createWebRtcTransport(options));
	}

	/** Creates a transport on `router` (a member) and wires it into the group. */
	async #place(router, create) {
		if (this.#closed) throw new Error('RouterGroup closed');
		this.#load.set(router, this.#load.get(router) + 1);
		let transport;
		try {
			transport = await create(router);
		} catch (error) {
			this.#load.set(router, this.#load.get(router) - 1);
			throw error;
		}
		transport.observer.once('close', () => this.#load.set(router, this.#load.get(router) - 1));
		// consume()/consumeData() first bring the (data) producer to this member if it lives elsewhere.
		const consume = transport.consume.bind(transport);
		transport.consume = async (opts = {}) => {
			if (opts && typeof opts.producerId === 'string') {
				await this.#bring(opts.producerId, router);
			}
			return consume(opts);
		};
		const consumeData = transport.consumeData.bind(transport);
		transport.consumeData = async (opts = {}) => {
			if (opts && typeof opts.dataProducerId === 'string') {
				await this.#bring(opts.dataProducerId, router, DATA);
			}
			return consumeData(opts);
		};
		this.#observer.safeEmit('newtransport', transport);
		return transport;
	}

	/** Pipes a producer (or data producer) into `router` unless it is there already (once per pair). */
	async #bring(id, router, kind = MEDIA) {
		if (kind.has(router, id)) return;
		const key = `${id} ${router.id}`;
		let pending = this.#pipes.get(key);
		if (!pending) {
			const source = this.#routers.find((r) => r !== router && kind.has(r, id) && !kind.isPipe(r, id));
			if (!source) return; // consume() reports the unknown producer
			pending = source.pipeToRouter({ [kind.idName]: id, router }).then((pair) => {
				pair[kind.pipeName].observer.once('close', () => this.#pipes.delete(key));
			});
			pending.catch(() => this.#pipes.delete(key));
			this.#pipes.set(key, pending);
		}
		await pending;
	}

	canConsume({ producerId, rtpCapabilities }) {
		const router = this.#routers.find((r) => r.hasProducer(producerId));
		return router ? router.canConsume({ producerId, rtpCapabilities }) : false;
	}

	updateMediaCodecs(mediaCodecs) {
		for (const r of this.#routers) r.updateMediaCodecs(mediaCodecs);
	}

	/** On the least loaded member; consuming on it brings producers there as for WebRTC. */
	async createPlainTransport(options) {
		return this.#place(this.#pick(), (r) => r.createPlainTransport(options));
	}

	async createPipeTransport(options) {
		return this.#place(this.#pick(), (r) => r.createPipeTransport(options));
	}

	async createDirectTransport(options) {
		return this.#place(this.#pick(), (r) => r.createDirectTransport(options));
	}

	async pipeToRouter(options) {
		const source = options?.dataProducerId
			? this.#routers.find((r) => r.hasDataProducer(options.dataProducerId))
			: this.#routers.find((r) => r.hasProducer(options?.producerId));
		if (!source) throw new TypeError('Producer not found in this RouterGroup');
		return source.pipeToRouter(options);
	}

	/**
	 * An observer on the first member: producers added to it are piped there first (in memory),
	 * and its events name the app's producers (the originals, wherever they live).
	 */
	async createActiveSpeakerObserver(options) {
		return this.#observe((r) => r.createActiveSpeakerObserver(options));
	}

	async createAudioLevelObserver(options) {
		return this.#observe((r) => r.createAudioLevelObserver(options));
	}

	async #observe(create) {
		if (this.#closed) throw new Error('RouterGroup closed');
		const home = this.#routers[0];
		const rtpObserver = await create(home);
		for (const method of ['addProducer', 'removeProducer']) {
			const call = rtpObserver[method].bind(rtpObserver);
			rtpObserver[method] = async (opts = {}) => {
				if (method === 'addProducer' && opts && typeof opts.producerId === 'string') {
					await this.#bring(opts.producerId, home);
				}
				return call(opts);
			};
		}
		rtpObserver.getProducerById = (producerId) => this.#original(producerId) ?? home.getProducerById(producerId);
		this.#observer.safeEmit('newrtpobserver', rtpObserver);
		return rtpObserver;
	}

	/** The app's producer with this id (not a pipe's copy of it). */
	#original(producerId) {
		const router = this.#routers.find((r) => r.hasProducer(producerId) && !r.isPipeProducer(producerId));
		return router?.getProducerById(producerId);
	}
}

/** How #bring() finds producers and data producers on members. */
const MEDIA = {
	idName: 'producerId',
	pipeName: 'pipeProducer',
	has: (router, id) => router.hasProducer(id),
	isPipe: (router, id) => router.isPipeProducer(id),
};
const DATA = {
	idName: 'dataProducerId',
	pipeName: 'pipeDataProducer',
	has: (router, id) => router.hasDataProducer(id),
	isPipe: (router, id) => router.isPipeDataProducer(id),
};

/**
 * Creates a RouterGroup: one router per given worker, all with the same media codecs (so the
 * same RTP capabilities), behaving as one Router.
 */
async function createRouterGroup({ workers, mediaCodecs, appData, keyFrameCache } = {}) {
	if (!Array.isArray(workers) || workers.length === 0) {
		throw new TypeError('workers must be a non-empty array of Workers');
	}
	utils.checkAppData(appData);
	const routers = await Promise.all(workers.map((w) => w.createRouter({ mediaCodecs, keyFrameCache })));
	return new RouterGroup({ routers, appData });
}

module.exports = { RouterGroup, createRouterGroup };
