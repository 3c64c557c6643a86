'use strict';

/**
 * ferrosoup/cluster: rooms across hosts, coordinated through Redis.
 *
 *   const cluster = await require('ferrosoup/cluster').join({ redisUrl, workers, listenInfo, publicUrl });
 *   const room = await cluster.createRoom('demo', { mediaCodecs });   // a Router's API
 *
 * Each process (host) registers itself in Redis (pipe address, load, public URL) under a key
 * that expires unless its heartbeat refreshes it. Producers are registered per room. A
 * consume() on this host of a producer that lives on another host first brings it here: one
 * PipeTransport pair (SRTP) per room and pair of hosts, set up through the hosts' Redis
 * channels, then a pipe producer with the same id per producer. Pause/resume/close of the
 * origin producer travel the same way. A host whose key expired is dropped by the others: their
 * pipes to it close (consumers get `producerclose`) and its entries are removed from Redis.
 *
 * Keys (prefix `ferrosoup:` by default): `host:<id>` (expiring JSON), `hosts` (set of ids),
 * `room:<roomId>:producers` (hash producer id → host id). Channels: `host:<id>` (requests and
 * replies to that host), `room:<roomId>` (producer events).
 */
const crypto = require('node:crypto');
const { EnhancedEventEmitter } = require('./enhancedEvents');
const { createRouterGroup } = require('./RouterGroup');
const { Logger } = require('./Logger');

const logger = new Logger('cluster');

function loadRedis() {
	try {
		return require('ioredis');
	} catch {
		throw new Error("ferrosoup/cluster needs the 'ioredis' package: npm install ioredis");
	}
}

class Cluster extends EnhancedEventEmitter {
	#redis;
	#sub;
	#prefix;
	#hostId;
	#workers;
	#listenInfo;
	#publicUrl;
	#heartbeatMs;
	#expiryMs;
	#timer;
	#rooms = new Map();
	#pending = new Map();
	#closed = false;

	constructor({ redis, sub, prefix, hostId, workers, listenInfo, publicUrl, heartbeatMs, expiryMs }) {
		super();
		this.#redis = redis;
		this.#sub = sub;
		this.#prefix = prefix;
		this.#hostId = hostId;
		this.#workers = workers;
		this.#listenInfo = listenInfo;
		this.#publicUrl = publicUrl;
		this.#heartbeatMs = heartbeatMs;
		this.#expiryMs = expiryMs;
	}

	get hostId() {
		return this.#hostId;
	}

	/** Where clients reach this host (for `pickHost()`), when known only after listening. */
	set publicUrl(url) {
		this.#publicUrl = url;
	}

	get closed() {
		return this.#closed;
	}

	key(...parts) {
		return `${this.#prefix}${parts.join(':')}`;
	}

	async start() {
		this.#sub.on('message', (channel, message) => this.#onMessage(channel, message));
		await this.#sub.subscribe(this.key('host', this.#hostId));
		await this.#beat();
		this.#timer = setInterval(() => {
			this.#beat().catch((e) => logger.error(`heartbeat failed: ${e}`));
			this.#checkPeers().catch((e) => logger.error(`peer check failed: ${e}`));
		}, this.#heartbeatMs);
		this.#timer.unref();
	}

	/** This host's load: live transports over its rooms. */
	#load() {
		let n = 0;
		for (const room of this.#rooms.values()) n += room.transportCount();
		return n;
	}

	async #beat() {
		const info = { id: this.#hostId, publicUrl: this.#publicUrl, load: this.#load(), at: Date.now() };
		await this.#redis.multi().set(this.key('host', this.#hostId), JSON.stringify(info), 'PX', this.#expiryMs).sadd(this.key('hosts'), this.#hostId).exec();
	}

	/** The live hosts, from Redis. */
	async hosts() {
		const ids = await this.#redis.smembers(this.key('hosts'));
		if (ids.length === 0) return [];
		const values = await this.#redis.mget(ids.map((id) => this.key('host', id)));
		return values.filter(Boolean).map((v) => JSON.parse(v));
	}

	/** The least loaded live host's public URL (where to send a new client). */
	async pickHost() {
		const hosts = await this.hosts();
		hosts.sort((a, b) => a.load - b.load || (a.id < b.id ? -1 : 1));
		return hosts[0]?.publicUrl;
	}

	/** Drops hosts whose key expired: pipes to them close, their entries leave Redis. */
	async #checkPeers() {
		// The registered hosts, and those this host is linked with: another host may have seen
		// one die first and taken it out of the set, but this host's pipes to it must close too.
		const ids = new Set(await this.#redis.smembers(this.key('hosts')));
		for (const room of this.#rooms.values()) {
			for (const id of room.linkedHosts()) ids.add(id);
		}
		const dead = [];
		for (const id of ids) {
			if (id !== this.#hostId && !(await this.#redis.exists(this.key('host', id)))) dead.push(id);
		}
		for (const id of dead) {
			logger.warn(`host ${id} is gone`);
			await this.#redis.srem(this.key('hosts'), id);
			for (const room of this.#rooms.values()) await room.hostGone(id);
			this.safeEmit('hostgone', id);
		}
	}

	/** Joins (or creates) room `roomId` on this host: a Router-like object. */
	async createRoom(roomId, { mediaCodecs, keyFrameCache } = {}) {
		let room = this.#rooms.get(roomId);
		if (!room) {
			const group = await createRouterGroup({ workers: this.#workers, mediaCodecs, keyFrameCache });
			room = new ClusterRoom({ cluster: this, roomId, group, listenInfo: this.#listenInfo });
			this.#rooms.set(roomId, room);
			await this.#sub.subscribe(this.key('room', roomId));
			group.observer.once('close', () => {
				this.#rooms.delete(roomId);
				this.#sub.unsubscribe(this.key('room', roomId)).catch(() => {});
			});
		}
		return room.api;
	}

	// ----- messages between hosts ------------------------------------------------------------

	/** Sends a request to host `to`; resolves with its reply. */
	request(to, method, data, timeoutMs = 10000) {
		const id = crypto.randomUUID();
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => {
				this.#pending.delete(id);
				reject(new Error(`cluster request ${method} to host ${to} timed out`));
			}, timeoutMs);
			this.#pending.set(id, { resolve, reject, timer });
			this.#redis.publish(this.key('host', to), JSON.stringify({ id, from: this.#hostId, method, data })).catch(reject);
		});
	}

	publish(channel, message) {
		return this.#redis.publish(channel, JSON.stringify({ ...message, from: this.#hostId }));
	}

	get redis() {
		return this.#redis;
	}

	async #onMessage(channel, raw) {
		let m;
		try {
			m = JSON.parse(raw);
		} catch {
			return;
		}
		if (channel === this.key('host', this.#hostId)) {
			if (m.reply) {
				const p = this.#pending.get(m.reply);
				if (!p) return;
				this.#pending.delete(m.reply);
				clearTimeout(p.timer);
				if (m.error) p.reject(new Error(m.error));
				else p.resolve(m.data);
				return;
			}
			let reply;
			try {
				const room = this.#rooms.get(m.data?.roomId);
				if (!room) throw new Error(`room ${m.data?.roomId} is not on host ${this.#hostId}`);
				reply = { reply: m.id, data: await room.handle(m.from, m.method, m.data) };
			} catch (error) {
				reply = { reply: m.id, error: String(error.message ?? error) };
			}
			await this.#redis.publish(this.key('host', m.from), JSON.stringify(reply));
			return;
		}
		for (const room of this.#rooms.values()) {
			if (channel === this.key('room', room.id) && m.from !== this.#hostId) room.onEvent(m);
		}
	}

	/** Leaves the cluster: rooms close, this host's entries leave Redis. */
	async leave() {
		if (this.#closed) return;
		this.#closed = true;
		clearInterval(this.#timer);
		for (const room of [...this.#rooms.values()]) await room.close();
		await this.#redis.multi().del(this.key('host', this.#hostId)).srem(this.key('hosts'), this.#hostId).exec();
		this.#sub.disconnect();
		this.#redis.disconnect();
	}
}

/** One room on this host: a RouterGroup, the producers it owns, and its pipes to other hosts. */
class ClusterRoom {
	#cluster;
	#group;
	#listenInfo;
	/** Pipe transports per other host: the one this host made to bring producers here (`out`,
	 * host id → Promise<PipeTransport>) and the one it made when asked (`in`, sending to it). */
	#pipesOut = new Map();
	#pipesIn = new Map();
	/** producer id → Promise (a remote producer being brought here). */
	#bringing = new Map();
	/** pipe producers here by id (remote originals), and pipe consumers here for other hosts. */
	#pipeProducers = new Map();
	#pipeConsumers = new Map();
	#local = new Set();

	constructor({ cluster, roomId, group, listenInfo }) {
		this.#cluster = cluster;
		this.id = roomId;
		this.#group = group;
		this.#listenInfo = listenInfo;
		this.api = this.#makeApi();
	}

	transportCount() {
		return this.#group.routers.reduce((n, r) => n + [...r.transportsForTesting.values()].filter((t) => !t.closed && t.type !== 'pipe').length, 0);
	}

	/** The Router-like object apps use: the group, with transports that register producers
	 * cluster-wide and consume remote ones. */
	#makeApi() {
		const group = this.#group;
		const room = this;
		const own = {
			hostId: this.#cluster.hostId,
			close: () => void room.close(),
			// A producer on another host (listed by producers()) can be consumed if its codecs fit
			// (checked by consume() once it is here).
			canConsume: ({ producerId, rtpCapabilities }) =>
				group.canConsume({ producerId, rtpCapabilities }) || room.#pipeProducers.has(producerId) || room.#known.has(producerId),
			/** Producers of the room on every host: [{ producerId, hostId }]. */
			producers: async () => {
				const all = await room.#cluster.redis.hgetall(room.#cluster.key('room', room.id, 'producers'));
				for (const [producerId, hostId] of Object.entries(all)) {
					if (hostId !== room.#cluster.hostId) room.#known.set(producerId, hostId);
				}
				return Object.entries(all).map(([producerId, hostId]) => ({ producerId, hostId }));
			},
			/** Other hosts this room has pipes with. */
			pipeHosts: () => [...new Set([...room.#pipesOut.keys(), ...room.#pipesIn.keys()])],
		};
		for (const method of ['createWebRtcTransport', 'createPlainTransport', 'createDirectTransport']) {
			own[method] = async (options) => room.#wrap(await group[method](options));
		}
		// Everything else is the RouterGroup's (methods bound to it: its state is private).
		return new Proxy(own, {
			get(target, prop) {
				if (Object.hasOwn(target, prop)) return target[prop];
				const value = Reflect.get(group, prop, group);
				return typeof value === 'function' ? value.bind(group) : value;
			},
		});
	}

	/** Remote producers seen here: id → owner host. */
	#known = new Map();

	#wrap(transport) {
		const produce = transport.produce.bind(transport);
		transport.produce = async (options) => {
			const producer = await produce(options);
			await this.#registerProducer(producer);
			return producer;
		};
		const consume = transport.consume.bind(transport);
		transport.consume = async (options = {}) => {
			if (options && typeof options.producerId === 'string') {
				await this.#bring(options.producerId);
			}
			return consume(options);
		};
		return transport;
	}

	async #registerProducer(producer) {
		const key = this.#cluster.key('room', this.id, 'producers');
		this.#local.add(producer.id);
		await this.#cluster.redis.hset(key, producer.id, this.#cluster.hostId);
		const announce = (event) => this.#cluster.publish(this.#cluster.key('room', this.id), { event, producerId: producer.id }).catch(() => {});
		producer.observer.on('pause', () => announce('pause'));
		producer.observer.on('resume', () => announce('resume'));
		producer.observer.once('close', () => {
			this.#local.delete(producer.id);
			this.#cluster.redis.hdel(key, producer.id).catch(() => {});
			announce('close');
		});
	}

	/** Brings a producer that lives on another host here (once). */
	async #bring(producerId) {
		if (this.#group.routers.some((r) => r.hasProducer(producerId))) return;
		let pending = this.#bringing.get(producerId);
		if (!pending) {
			pending = this.#fetch(producerId);
			this.#bringing.set(producerId, pending);
			pending.catch(() => this.#bringing.delete(producerId));
		}
		await pending;
	}

	async #fetch(producerId) {
		const owner = await this.#cluster.redis.hget(this.#cluster.key('room', this.id, 'producers'), producerId);
		if (!owner || owner === this.#cluster.hostId) return; // consume() reports the unknown producer
		this.#known.set(producerId, owner);
		const pipe = await this.#pipeTo(owner);
		const data = await this.#cluster.request(owner, 'pipeConsume', { roomId: this.id, producerId });
		const pipeProducer = await pipe.produce({ id: producerId, kind: data.kind, rtpParameters: data.rtpParameters, paused: data.paused });
		this.#pipeProducers.set(producerId, { pipeProducer, owner });
		pipeProducer.observer.once('close', () => {
			this.#pipeProducers.delete(producerId);
			this.#bringing.delete(producerId);
		});
	}

	/** This host's PipeTransport towards host `peer` (created and connected once). */
	#pipeTo(peer) {
		let pending = this.#pipesOut.get(peer);
		if (!pending) {
			pending = (async () => {
				const pipe = await this.#group.createPipeTransport({ listenInfo: this.#listenInfo, enableSrtp: true, enableRtx: true });
				const remote = await this.#cluster.request(peer, 'pipeConnect', {
					roomId: this.id,
					ip: this.#listenInfo.announcedAddress ?? this.#listenInfo.ip,
					port: pipe.tuple.localPort,
					srtpParameters: pipe.srtpParameters,
				});
				await pipe.connect({ ip: remote.ip, port: remote.port, srtpParameters: remote.srtpParameters });
				pipe.observer.once('close', () => this.#pipesOut.delete(peer));
				return pipe;
			})();
			this.#pipesOut.set(peer, pending);
			pending.catch(() => this.#pipesOut.delete(peer));
		}
		return pending;
	}

	/** Requests from other hosts. */
	async handle(from, method, data) {
		switch (method) {
			case 'pipeConnect': {
				// The other side made its transport: make ours towards it and answer with it.
				this.#pipesIn.get(from)?.close();
				const pipe = await this.#group.createPipeTransport({ listenInfo: this.#listenInfo, enableSrtp: true, enableRtx: true });
				await pipe.connect({ ip: data.ip, port: data.port, srtpParameters: data.srtpParameters });
				this.#pipesIn.set(from, pipe);
				pipe.observer.once('close', () => {
					if (this.#pipesIn.get(from) === pipe) this.#pipesIn.delete(from);
				});
				return { ip: this.#listenInfo.announcedAddress ?? this.#listenInfo.ip, port: pipe.tuple.localPort, srtpParameters: pipe.srtpParameters };
			}
			case 'pipeConsume': {
				if (!this.#local.has(data.producerId)) throw new Error('Producer not found on this host');
				const pipe = this.#pipesIn.get(from);
				if (!pipe) throw new Error(`no pipe to host ${from}`);
				const pipeConsumer = await pipe.consume({ producerId: data.producerId });
				const list = this.#pipeConsumers.get(from) ?? new Set();
				list.add(pipeConsumer);
				this.#pipeConsumers.set(from, list);
				pipeConsumer.observer.once('close', () => list.delete(pipeConsumer));
				return { kind: pipeConsumer.kind, rtpParameters: pipeConsumer.rtpParameters, paused: pipeConsumer.producerPaused };
			}
			default:
				throw new Error(`unknown cluster method ${method}`);
		}
	}

	/** Producer events from their hosts. */
	onEvent({ event, producerId }) {
		const entry = this.#pipeProducers.get(producerId);
		if (!entry) return;
		if (event === 'close') entry.pipeProducer.close();
		else if (event === 'pause') entry.pipeProducer.pause().catch(() => {});
		else if (event === 'resume') entry.pipeProducer.resume().catch(() => {});
	}

	/** Other hosts this room has pipes with or has producers of. */
	linkedHosts() {
		return new Set([...this.#pipesOut.keys(), ...this.#pipesIn.keys(), ...this.#known.values()]);
	}

	/** Host `id` is gone: close what links to it and remove its producers from Redis. */
	async hostGone(id) {
		const out = this.#pipesOut.get(id);
		this.#pipesOut.delete(id);
		if (out) (await out.catch(() => undefined))?.close();
		this.#pipesIn.get(id)?.close();
		this.#pipesIn.delete(id);
		for (const [producerId, entry] of this.#pipeProducers) {
			if (entry.owner === id) entry.pipeProducer.close();
		}
		for (const [producerId, owner] of this.#known) {
			if (owner === id) this.#known.delete(producerId);
		}
		this.#pipeConsumers.delete(id);
		const key = this.#cluster.key('room', this.id, 'producers');
		const all = await this.#cluster.redis.hgetall(key);
		const theirs = Object.entries(all).filter(([, host]) => host === id).map(([p]) => p);
		if (theirs.length) await this.#cluster.redis.hdel(key, ...theirs);
	}

	async close() {
		const key = this.#cluster.key('room', this.id, 'producers');
		if (this.#local.size) await this.#cluster.redis.hdel(key, ...this.#local).catch(() => {});
		this.#group.close();
	}
}

/**
 * Joins this process to a cluster. `workers`: this host's workers; `listenInfo`: where its pipe
 * transports listen (`announcedAddress` is what other hosts reach); `publicUrl`: where clients
 * reach this host (for `pickHost()`).
 */
async function join({ redisUrl, workers, listenInfo, publicUrl, hostId = crypto.randomUUID(), prefix = 'ferrosoup:', heartbeatMs = 1000, expiryMs = 3000 } = {}) {
	if (!Array.isArray(workers) || workers.length === 0) throw new TypeError('workers must be a non-empty array');
	if (!listenInfo || typeof listenInfo.ip !== 'string') throw new TypeError('missing listenInfo.ip');
	if (expiryMs <= heartbeatMs) throw new TypeError('expiryMs must be greater than heartbeatMs');
	const Redis = loadRedis();
	const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
	const sub = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
	for (const client of [redis, sub]) client.on('error', (error) => logger.error(`redis: ${error.message}`));
	await Promise.all([redis.connect(), sub.connect()]);
	const cluster = new Cluster({ redis, sub, prefix, hostId, workers, listenInfo: { protocol: 'udp', ...listenInfo }, publicUrl, heartbeatMs, expiryMs });
	await cluster.start();
	return cluster;
}

module.exports = { join };
