'use strict';

/**
 * The room app from the production report: Express + socket.io, one roomEventHandler for every
 * event, mediasoup's API only. Runs on ferrosoup by default; MEDIASOUP_MODULE=mediasoup runs
 * the very same code on the real mediasoup package (when it is installed).
 *
 *   npm start                         # http://127.0.0.1:3000
 *   PORT=8080 LISTEN_IP=0.0.0.0 ANNOUNCED_ADDRESS=<public ip> npm start
 *   WORKERS=4 npm start               # number of workers (default: CPU cores)
 *   WEBRTC_SERVER_PORT=44444 npm start # worker i listens on UDP+TCP port 44444+i (default: free ports)
 *   WEBRTC_SERVER=off npm start       # a port per transport instead of one WebRtcServer per worker
 *   REDIS_URL=redis://127.0.0.1:6379 HOST_ID=a PORT=3001 npm start   # one host of a cluster
 *
 * With REDIS_URL (ferrosoup only) the process is one host of a cluster (ferrosoup/cluster): rooms
 * span every host joined to that Redis, a viewer on any host watches a broadcaster on any other,
 * socket.io's Redis adapter carries room events between hosts, GET /go sends a new client to
 * the least loaded host, and GET /metrics serves Prometheus text.
 */
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { performance, monitorEventLoopDelay } = require('node:perf_hooks');
const express = require('express');
const { Server } = require('socket.io');

const MODULE = process.env.MEDIASOUP_MODULE || 'ferrosoup';
const mediasoup = require(MODULE === 'ferrosoup' ? path.join(__dirname, '..', '..') : MODULE);

const LISTEN_IP = process.env.LISTEN_IP || '127.0.0.1';
const ANNOUNCED_ADDRESS = process.env.ANNOUNCED_ADDRESS || undefined;
const WEBRTC_SERVER_PORT = process.env.WEBRTC_SERVER_PORT ? Number(process.env.WEBRTC_SERVER_PORT) : undefined;
// Peer counts go to a room at most this often (see announce()).
const ANNOUNCE_MS = 200;

const mediaCodecs = [
	{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
	{ kind: 'video', mimeType: 'video/VP8', clockRate: 90000, parameters: { 'x-google-start-bitrate': 1000 } },
];

/** Per-event handler times and Node-thread numbers, for the benchmark (GET /metrics). */
class Metrics {
	constructor() {
		this.loop = monitorEventLoopDelay({ resolution: 5 });
		this.loop.enable();
		this.reset();
	}

	reset() {
		this.handlers = {};
		this.loop.reset();
		this.cpu = mainThreadCpuMs();
		this.since = performance.now();
	}

	record(event, ms) {
		(this.handlers[event] ??= []).push(ms);
	}

	snapshot() {
		return {
			module: MODULE,
			handlers: this.handlers,
			eventLoopDelayP99Ms: this.loop.percentile(99) / 1e6,
			eventLoopDelayMaxMs: this.loop.max / 1e6,
			nodeThreadCpuMs: mainThreadCpuMs() - this.cpu,
			wallMs: performance.now() - this.since,
		};
	}
}

/** CPU time of this process's main (Node) thread only, from /proc; falls back to the process. */
function mainThreadCpuMs() {
	try {
		const stat = require('node:fs').readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
		const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
		return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
	} catch {
		const u = process.cpuUsage();
		return (u.user + u.system) / 1000;
	}
}

async function start({
	port = Number(process.env.PORT ?? 3000),
	host = '127.0.0.1',
	workers: numWorkers,
	webRtcServer: useServer = process.env.WEBRTC_SERVER !== 'off',
	redisUrl = process.env.REDIS_URL,
	hostId = process.env.HOST_ID,
} = {}) {
	const workers = [];
	// As production apps do: one WebRtcServer per worker (one UDP and one TCP port) that every
	// transport of the worker shares.
	const webRtcServers = new Map();
	const count = numWorkers ?? Number(process.env.WORKERS || os.cpus().length);
	for (let i = 0; i < count; i++) {
		const worker = await mediasoup.createWorker({ logLevel: 'warn' });
		worker.on('died', (e) => console.error(`worker died: ${e.message}`));
		workers.push(worker);
		if (useServer) {
			const at = WEBRTC_SERVER_PORT === undefined ? undefined : WEBRTC_SERVER_PORT + i;
			webRtcServers.set(worker, await worker.createWebRtcServer({
				listenInfos: ['udp', 'tcp'].map((protocol) => ({ protocol, ip: LISTEN_IP, announcedAddress: ANNOUNCED_ADDRESS, port: at })),
			}));
		}
	}
	let cluster;
	if (redisUrl) {
		if (MODULE !== 'ferrosoup') throw new Error('REDIS_URL needs ferrosoup (ferrosoup/cluster)');
		cluster = await require(path.join(__dirname, '..', '..', 'cluster')).join({
			redisUrl,
			hostId,
			workers,
			listenInfo: { ip: LISTEN_IP, announcedAddress: ANNOUNCED_ADDRESS },
		});
	}
	let nextWorker = 0;
	const rooms = new Map();
	const metrics = new Metrics();
	const prometheus = prometheusMetrics({ workers, rooms, cluster });

	async function getOrCreateRoom(roomId) {
		let room = rooms.get(roomId);
		if (!room) {
			// Rooms go round-robin over the workers.
			const worker = workers[nextWorker++ % workers.length];
			room = { id: roomId, worker, spread: false, router: null, ready: null, peers: new Map(), broadcaster: null };
			rooms.set(roomId, room);
			// keyFrameCache is a ferrosoup option (mediasoup ignores it): KEY_FRAME_CACHE=off disables it.
			const keyFrameCache = process.env.KEY_FRAME_CACHE === 'off'
				? false
				: process.env.KEY_FRAME_CACHE_MS
					? { maxDurationMs: Number(process.env.KEY_FRAME_CACHE_MS) }
					: undefined;
			// On ferrosoup a room can span every worker thread (createRouterGroup has a Router's
			// API); on mediasoup, or with ROOM_SPREAD=off, a room lives on one worker.
			const spread = typeof mediasoup.createRouterGroup === 'function' && process.env.ROOM_SPREAD !== 'off' && workers.length > 1;
			room.spread = spread || Boolean(cluster);
			room.ready = (cluster
				? cluster.createRoom(roomId, { mediaCodecs, keyFrameCache })
				: spread
				? mediasoup.createRouterGroup({ workers, mediaCodecs, keyFrameCache })
				: worker.createRouter({ mediaCodecs, keyFrameCache })
			).then((router) => (room.router = router));
		}
		await room.ready;
		return room;
	}

	/** The socket.io room of a room's peers that asked for its peer counts (the pages do). */
	const infoRoom = (roomId) => `${roomId}/info`;

	/**
	 * Tells the room's pages, on every host (socket.io's Redis adapter), how many peers are here; with
	 * `askOthers`, asks the other hosts to tell theirs. Coalesced per room: a message to every
	 * peer on every join made a burst of N joins cost N² messages (500 joins: 125,000, the event
	 * loop held for ~0.4 s at a time).
	 */
	function announce(room, askOthers = false) {
		room.askOthers ||= askOthers;
		if (room.announceTimer) return;
		room.announceTimer = setTimeout(() => {
			room.announceTimer = null;
			if (rooms.get(room.id) !== room) return;
			io.to(infoRoom(room.id)).emit('roomInfo', { hostId: cluster?.hostId ?? 'local', peers: room.peers.size });
			if (room.askOthers && redisUrl) io.serverSideEmit('roomInfoRequest', room.id);
			room.askOthers = false;
		}, ANNOUNCE_MS);
		room.announceTimer.unref();
	}

	function roomOf(roomId) {
		const room = rooms.get(roomId);
		if (!room || !room.router) throw new Error(`room "${roomId}" does not exist`);
		return room;
	}

	function peerOf(room, socket) {
		const peer = room.peers.get(socket.id);
		if (!peer) throw new Error('not joined');
		return peer;
	}

	function leave(room, socketId) {
		const peer = room.peers.get(socketId);
		if (!peer) return;
		// Closing a transport closes its producers and consumers.
		for (const transport of peer.transports.values()) transport.close();
		room.peers.delete(socketId);
		if (room.broadcaster === socketId) room.broadcaster = null;
		announce(room);
		// The chat bot's DirectTransport goes with the room's router.
		if (room.peers.size === 0) {
			clearTimeout(room.announceTimer);
			room.router.close();
			rooms.delete(room.id);
		}
	}

	/**
	 * The room's chat: a bot on a DirectTransport consumes every peer's chat DataProducer and
	 * relays each message, with the sender's name, through its own DataProducer that every
	 * chatting peer consumes. Created on first use.
	 */
	function chatBot(room) {
		room.chat ??= (async () => {
			const transport = await room.router.createDirectTransport();
			const dataProducer = await transport.produceData({ label: 'chat' });
			return {
				dataProducer,
				async listen(peerDataProducer, name) {
					const dataConsumer = await transport.consumeData({ dataProducerId: peerDataProducer.id });
					dataConsumer.on('message', (message, ppid) => {
						// Text only (PPID 51), at most 1 KiB per message.
						if (ppid !== 51 || message.length > 1024) return;
						dataProducer.send(JSON.stringify({ from: name, text: message.toString('utf8') }));
					});
				},
			};
		})();
		return room.chat;
	}

	async function roomEventHandler(eventName, args, socket, callback) {
		const { roomId } = args ?? {};
		switch (eventName) {
			case 'createRoom': {
				await getOrCreateRoom(String(roomId));
				return callback({ roomId });
			}
			case 'join': {
				const room = roomOf(roomId);
				room.peers.set(socket.id, {
					id: socket.id,
					name: String(args.name ?? 'anonymous'),
					ip: socket.handshake.address,
					transports: new Map(),
					producers: new Map(),
					consumers: new Map(),
					joinedAt: performance.now(),
				});
				socket.data.rooms = [...(socket.data.rooms ?? []), room.id];
				socket.join(room.id);
				// Peer counts only to those who show them: to every peer they cost a message per
				// peer each time the count changes.
				if (args.roomInfo) socket.join(infoRoom(room.id));
				// The other hosts tell their counts too (server-side events over the adapter).
				announce(room, true);
				return callback({ peers: room.peers.size, hostId: cluster?.hostId });
			}
			case 'getRouterRtpCapabilities': {
				return callback(roomOf(roomId).router.rtpCapabilities);
			}
			case 'createWebRtcTransport': {
				const room = roomOf(roomId);
				const peer = peerOf(room, socket);
				const listen = !useServer
					? { listenInfos: [{ protocol: 'udp', ip: LISTEN_IP, announcedAddress: ANNOUNCED_ADDRESS }] }
					// A spread room (ferrosoup) takes every worker's server and uses the one of the
					// worker it puts the transport on.
					: { webRtcServer: room.spread ? [...webRtcServers.values()] : webRtcServers.get(room.worker) };
				// With the client's sctpCapabilities the transport also carries DataChannels (chat).
				const sctp = args.sctpCapabilities ? { enableSctp: true, numSctpStreams: args.sctpCapabilities.numStreams } : {};
				const transport = await room.router.createWebRtcTransport({ ...listen, ...sctp, appData: { peerId: peer.id } });
				peer.transports.set(transport.id, transport);
				return callback({
					id: transport.id,
					iceParameters: transport.iceParameters,
					iceCandidates: transport.iceCandidates,
					dtlsParameters: transport.dtlsParameters,
					sctpParameters: transport.sctpParameters,
				});
			}
			case 'connectTransport': {
				const room = roomOf(roomId);
				const transport = peerOf(room, socket).transports.get(args.transportId);
				if (!transport) throw new Error('transport not found');
				await transport.connect({ dtlsParameters: args.dtlsParameters });
				return callback({});
			}
			case 'produce': {
				const room = roomOf(roomId);
				const peer = peerOf(room, socket);
				const transport = peer.transports.get(args.transportId);
				if (!transport) throw new Error('transport not found');
				const producer = await transport.produce({ kind: args.kind, rtpParameters: args.rtpParameters });
				peer.producers.set(producer.id, producer);
				room.broadcaster = socket.id;
				return callback({ id: producer.id });
			}
			case 'getProducers': {
				const room = roomOf(roomId);
				if (cluster) {
					// The room's producers on every host (consume() brings them here).
					return callback(await room.router.producers());
				}
				const broadcaster = room.peers.get(room.broadcaster);
				const list = broadcaster ? [...broadcaster.producers.values()].filter((p) => !p.closed) : [];
				return callback(list.map((p) => ({ producerId: p.id, kind: p.kind })));
			}
			case 'consume': {
				const room = roomOf(roomId);
				const peer = peerOf(room, socket);
				const transport = peer.transports.get(args.transportId);
				if (!transport) throw new Error('transport not found');
				if (!room.router.canConsume({ producerId: args.producerId, rtpCapabilities: args.rtpCapabilities })) {
					throw new Error('cannot consume');
				}
				const consumer = await transport.consume({ producerId: args.producerId, rtpCapabilities: args.rtpCapabilities });
				peer.consumers.set(consumer.id, consumer);
				if (peer.consumers.size === 1) prometheus.joined((performance.now() - peer.joinedAt) / 1000);
				consumer.on('producerclose', () => {
					peer.consumers.delete(consumer.id);
					socket.emit('consumerClosed', { consumerId: consumer.id });
				});
				return callback({ id: consumer.id, producerId: args.producerId, kind: consumer.kind, rtpParameters: consumer.rtpParameters });
			}
			case 'produceData': {
				// A peer's chat DataProducer: the room's bot consumes and relays it.
				const room = roomOf(roomId);
				const peer = peerOf(room, socket);
				const transport = peer.transports.get(args.transportId);
				if (!transport) throw new Error('transport not found');
				const dataProducer = await transport.produceData({
					sctpStreamParameters: args.sctpStreamParameters,
					label: args.label,
					protocol: args.protocol,
				});
				await (await chatBot(room)).listen(dataProducer, peer.name);
				return callback({ id: dataProducer.id });
			}
			case 'consumeChat': {
				const room = roomOf(roomId);
				const transport = peerOf(room, socket).transports.get(args.transportId);
				if (!transport) throw new Error('transport not found');
				const bot = await chatBot(room);
				const dataConsumer = await transport.consumeData({ dataProducerId: bot.dataProducer.id });
				return callback({
					id: dataConsumer.id,
					dataProducerId: dataConsumer.dataProducerId,
					sctpStreamParameters: dataConsumer.sctpStreamParameters,
					label: dataConsumer.label,
					protocol: dataConsumer.protocol,
				});
			}
			case 'exitRoom': {
				const room = rooms.get(roomId);
				if (room) leave(room, socket.id);
				return callback({});
			}
			default:
				return callback({ error: `unknown event ${eventName}` });
		}
	}

	let url;
	const app = express();
	app.use(express.static(path.join(__dirname, 'public')));
	app.get('/bundle.js', async (req, res) => {
		res.type('text/javascript').send(await bundle());
	});
	app.get('/metrics.json', async (req, res) => res.json({ ...metrics.snapshot(), keyFrameRequests: await keyFrameRequests() }));
	// Prometheus text format, for operators' usual tools.
	app.get('/metrics', async (req, res) => {
		res.type(prometheus.registry.contentType).send(await prometheus.registry.metrics());
	});
	app.get('/info', (req, res) => res.json({ hostId: cluster?.hostId ?? 'local', publicUrl: url }));
	// A new client goes to the least loaded host of the cluster (this one without a cluster).
	app.get('/go', async (req, res) => {
		const target = (cluster && (await cluster.pickHost())) || url;
		const query = new URLSearchParams(req.query).toString();
		res.redirect(`${target}${query ? `?${query}` : ''}`);
	});
	app.post('/metrics/reset', (req, res) => {
		metrics.reset();
		res.json({});
	});
	app.get('/stats', async (req, res) => {
		const dumps = await Promise.all(workers.map((w) => w.dump()));
		res.json({ rooms: rooms.size, routers: dumps.reduce((n, d) => n + d.routerIds.length, 0), transports: await countTransports() });
	});
	app.get('/workers', async (req, res) => {
		res.json(await Promise.all(workers.map((w) => w.getResourceUsage())));
	});

	/** PLI + FIR sent to broadcasters so far (from their producers' stats). */
	async function keyFrameRequests() {
		let n = 0;
		for (const room of rooms.values()) {
			for (const peer of room.peers.values()) {
				for (const producer of peer.producers.values()) {
					if (producer.closed || producer.kind !== 'video') continue;
					for (const s of await producer.getStats()) n += (s.pliCount ?? 0) + (s.firCount ?? 0);
				}
			}
		}
		return n;
	}

	/** WebRTC transports of every room (a room spread over workers counts all its members; the
	 * in-memory pipes between them are not counted). */
	async function countTransports() {
		let n = 0;
		for (const room of rooms.values()) {
			if (!room.router || room.router.closed) continue;
			for (const r of room.router.routers ?? [room.router]) {
				n += [...r.transportsForTesting.values()].filter((t) => !t.closed && t.type === 'webrtc').length;
			}
		}
		return n;
	}

	const server = http.createServer(app);
	const io = new Server(server, { serveClient: false });
	let adapterClients = [];
	if (redisUrl) {
		const Redis = require('ioredis');
		const { createAdapter } = require('@socket.io/redis-adapter');
		const pub = new Redis(redisUrl);
		const sub = pub.duplicate();
		adapterClients = [pub, sub];
		io.adapter(createAdapter(pub, sub));
		io.on('roomInfoRequest', (roomId) => {
			const room = rooms.get(roomId);
			if (room) announce(room);
		});
	}
	io.on('connection', (socket) => {
		socket.onAny((eventName, ...args) => {
			const callback = typeof args[args.length - 1] === 'function' ? args.pop() : () => {};
			const t0 = performance.now();
			const done = (reply) => {
				metrics.record(eventName, performance.now() - t0);
				callback(reply);
			};
			roomEventHandler(eventName, args[0], socket, done).catch((error) => done({ error: error.message }));
		});
		socket.on('disconnect', () => {
			for (const roomId of socket.data.rooms ?? []) {
				const room = rooms.get(roomId);
				if (room) leave(room, socket.id);
			}
		});
	});

	await new Promise((resolve) => server.listen(port, host, resolve));
	url = `http://${host}:${server.address().port}/`;
	if (cluster) cluster.publicUrl = url;
	return {
		url,
		workers,
		webRtcServers,
		rooms,
		metrics,
		countTransports,
		cluster,
		async close() {
			io.close();
			await new Promise((r) => server.close(r));
			await cluster?.leave();
			for (const c of adapterClients) c.disconnect();
			for (const w of workers) w.close();
		},
	};
}

/**
 * Prometheus metrics of this process (prom-client): workers' CPU, transports, producers,
 * consumers, what consumers forwarded, join times (join → first consume), pipe links per host.
 */
function prometheusMetrics({ workers, rooms, cluster }) {
	const client = require('prom-client');
	const registry = new client.Registry();
	const peers = () => [...rooms.values()].flatMap((r) => [...r.peers.values()]);
	new client.Gauge({
		name: 'ferrosoup_worker_cpu_seconds',
		help: 'CPU time of each worker thread',
		labelNames: ['worker'],
		registers: [registry],
		async collect() {
			for (const [i, w] of workers.entries()) {
				const u = await w.getResourceUsage();
				this.set({ worker: String(i) }, (u.ru_utime + u.ru_stime) / 1000);
			}
		},
	});
	for (const [name, help, count] of [
		['ferrosoup_transports', 'Transports of this host\'s peers', (p) => p.transports.size],
		['ferrosoup_producers', 'Producers of this host\'s peers', (p) => p.producers.size],
		['ferrosoup_consumers', 'Consumers of this host\'s peers', (p) => p.consumers.size],
	]) {
		new client.Gauge({ name, help, registers: [registry], collect() { this.set(peers().reduce((n, p) => n + count(p), 0)); } });
	}
	new client.Gauge({
		name: 'ferrosoup_forwarded',
		help: 'Packets and bytes sent by consumers on this host',
		labelNames: ['unit'],
		registers: [registry],
		async collect() {
			let packets = 0;
			let bytes = 0;
			for (const c of peers().flatMap((p) => [...p.consumers.values()])) {
				if (c.closed) continue;
				const [s] = await c.getStats().catch(() => []);
				packets += s?.packetCount ?? 0;
				bytes += s?.byteCount ?? 0;
			}
			this.set({ unit: 'packets' }, packets);
			this.set({ unit: 'bytes' }, bytes);
		},
	});
	const joins = new client.Histogram({ name: 'ferrosoup_join_seconds', help: 'From a peer\'s join to its first consumer', buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [registry] });
	new client.Gauge({
		name: 'ferrosoup_pipe_links',
		help: 'Rooms linked by pipe transports to each other host',
		labelNames: ['host'],
		registers: [registry],
		collect() {
			this.reset();
			if (!cluster) return;
			for (const room of rooms.values()) {
				for (const h of room.router?.pipeHosts?.() ?? []) this.inc({ host: h });
			}
		},
	});
	return { registry, joined: (seconds) => joins.observe(seconds) };
}

let bundled;
function bundle() {
	bundled ??= require('esbuild')
		.build({
			entryPoints: [path.join(__dirname, 'public', 'client.js')],
			bundle: true,
			write: false,
			format: 'iife',
			platform: 'browser',
			target: 'chrome110',
			logLevel: 'silent',
		})
		.then((r) => r.outputFiles[0].text);
	return bundled;
}

module.exports = { start };

if (require.main === module) {
	start()
		.then(({ url, workers, close }) => {
			for (const signal of ['SIGINT', 'SIGTERM']) {
				process.once(signal, () => close().then(() => process.exit(0)));
			}
			console.log(`room demo (${MODULE}, ${workers.length} workers) at ${url}`);
			console.log(`  broadcaster: ${url}?role=broadcast&room=demo`);
			console.log(`  viewer:      ${url}?role=watch&room=demo`);
		})
		.catch((error) => {
			console.error(error);
			process.exit(1);
		});
}
