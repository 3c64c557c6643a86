'use strict';

// WebRtcServer: mediasoup 3.27's API (shapes, validation, errors, events, cascades) and media
// through its shared sockets (native peers; Chromium in webrtc-server-browser.test.js).
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { once } = require('node:events');
const dgram = require('node:dgram');
const ferrosoup = require('..');
const codecs = require('./lib/codecs');
const oracle = require('./lib/oracle');

const { WorkerClosedError, NotFoundError } = ferrosoup.errors;
let worker;
let router;

before(async () => {
	worker = await ferrosoup.createWorker({ rtcMinPort: 49000, rtcMaxPort: 49999 });
	router = await worker.createRouter({ mediaCodecs: codecs.opusVp8 });
});
after(() => worker.close());

const UDP = { protocol: 'udp', ip: '127.0.0.1' };
const TCP = { protocol: 'tcp', ip: '127.0.0.1' };

/** Priority mediasoup gives the `index`th listen info's candidate (+1000 when preferred). */
const priority = (index, preferred = false) => 2 ** 24 * 64 + 2 ** 8 * (10000 - 100 * index + (preferred ? 1000 : 0)) + 255;

test('createWebRtcServer(): sockets, dump(), worker dump, observer, appData', async () => {
	const created = [];
	worker.observer.on('newwebrtcserver', (s) => created.push(s));
	const server = await worker.createWebRtcServer({
		listenInfos: [UDP, { ...TCP, portRange: { min: 39500, max: 39510 } }],
		appData: { room: 'a' },
	});
	assert.deepStrictEqual(created, [server]);
	assert.match(server.id, /^[0-9a-f-]{36}$/);
	assert.equal(server.closed, false);
	assert.deepStrictEqual(server.appData, { room: 'a' });
	server.appData = { room: 'b' };
	assert.deepStrictEqual(server.appData, { room: 'b' });
	assert.equal(typeof server.observer.on, 'function');
	const dump = await server.dump();
	assert.deepStrictEqual(Object.keys(dump).slice(0, 5), ['id', 'udpSockets', 'tcpServers', 'webRtcTransportIds', 'localIceUsernameFragments']);
	assert.equal(dump.id, server.id);
	assert.equal(dump.udpSockets.length, 1);
	assert.equal(dump.udpSockets[0].ip, '127.0.0.1');
	assert.ok(dump.udpSockets[0].port >= 49000 && dump.udpSockets[0].port <= 49999);
	assert.equal(dump.tcpServers.length, 1);
	assert.ok(dump.tcpServers[0].port >= 39500 && dump.tcpServers[0].port <= 39510);
	assert.deepStrictEqual(dump.webRtcTransportIds, []);
	assert.deepStrictEqual(dump.localIceUsernameFragments, []);
	const w = await worker.dump();
	assert.deepStrictEqual(w.webRtcServerIds, [server.id]);
	assert.ok(w.channelMessageHandlers.channelRequestHandlers.includes(server.id));
	// The UDP port is really bound: a second bind of it fails.
	const probe = dgram.createSocket('udp4');
	await assert.rejects(new Promise((resolve, reject) => {
		probe.once('error', reject);
		probe.bind(dump.udpSockets[0].port, '127.0.0.1', resolve);
	}), { code: 'EADDRINUSE' });
	probe.close();
	server.close();
	assert.deepStrictEqual((await worker.dump()).webRtcServerIds, []);
});

test('createWebRtcServer(): wrong arguments and unbindable addresses reject as mediasoup', async () => {
	await assert.rejects(worker.createWebRtcServer(), TypeError);
	await assert.rejects(worker.createWebRtcServer({}), { name: 'TypeError', message: 'listenInfos is not iterable' });
	await assert.rejects(worker.createWebRtcServer({ listenInfos: 5 }), { name: 'TypeError', message: 'listenInfos is not iterable' });
	await assert.rejects(worker.createWebRtcServer({ listenInfos: [] }), { name: 'TypeError', message: 'wrong listenInfos (empty array)' });
	await assert.rejects(worker.createWebRtcServer({ listenInfos: [UDP], appData: 'x' }), { name: 'TypeError', message: 'if given, appData must be an object' });
	await assert.rejects(worker.createWebRtcServer({ listenInfos: [{ protocol: 'udp', ip: 'not-an-ip' }] }), { name: 'TypeError', message: "invalid IP 'not-an-ip'" });
	await assert.rejects(worker.createWebRtcServer({ listenInfos: [{ protocol: 'udp' }] }), TypeError);
	// Ports in use: mediasoup's messages (plain Error).
	const taken = await worker.createWebRtcServer({ listenInfos: [UDP, TCP] });
	const { udpSockets: [u], tcpServers: [t] } = await taken.dump();
	await assert.rejects(worker.createWebRtcServer({ listenInfos: [{ ...UDP, port: u.port }] }), {
		name: 'Error',
		message: `uv_udp_bind() failed [protocol:udp, ip:'127.0.0.1', port:${u.port}]: address already in use`,
	});
	await assert.rejects(worker.createWebRtcServer({ listenInfos: [{ ...TCP, port: t.port }] }), {
		name: 'Error',
		message: `uv_listen() failed [protocol:tcp, ip:'127.0.0.1', port:${t.port}]: address already in use`,
	});
	// The same fixed port twice in one server: the second bind fails and the first is released.
	const free = (await taken.dump()).udpSockets[0].port;
	taken.close();
	await assert.rejects(worker.createWebRtcServer({ listenInfos: [{ ...UDP, port: free }, { ...UDP, port: free }] }), /address already in use/);
	const again = await worker.createWebRtcServer({ listenInfos: [{ ...UDP, port: free }] });
	again.close();
	// A range with every port taken.
	const holder = await worker.createWebRtcServer({ listenInfos: [{ ...UDP, portRange: { min: 39600, max: 39600 } }] });
	await assert.rejects(worker.createWebRtcServer({ listenInfos: [{ ...UDP, portRange: { min: 39600, max: 39600 } }] }), {
		name: 'Error',
		message: "no more available ports [protocol:udp, ip:'127.0.0.1', numAttempt:1]",
	});
	holder.close();
	// An address that is not this host's.
	await assert.rejects(worker.createWebRtcServer({ listenInfos: [{ ...UDP, ip: '203.0.113.7', port: 39700 }] }), {
		message: "uv_udp_bind() failed [protocol:udp, ip:'203.0.113.7', port:39700]: address not available",
	});
	// Nothing was left behind by the failures.
	assert.deepStrictEqual((await worker.dump()).webRtcServerIds, []);
});

test('createWebRtcTransport({ webRtcServer }): candidates, credentials, events, errors', async () => {
	const server = await worker.createWebRtcServer({
		listenInfos: [UDP, { ...TCP, announcedAddress: 'media.example.com', exposeInternalIp: true }],
	});
	const { udpSockets: [u], tcpServers: [t] } = await server.dump();
	const order = [];
	router.observer.once('newtransport', () => order.push('router:newtransport'));
	server.observer.once('webrtctransporthandled', () => order.push('server:webrtctransporthandled'));
	// listenInfos alongside a server are ignored (the server wins), as in mediasoup.
	const transport = await router.createWebRtcTransport({ webRtcServer: server, listenInfos: [UDP], preferTcp: true });
	assert.deepStrictEqual(order, ['router:newtransport', 'server:webrtctransporthandled']);
	assert.deepStrictEqual(transport.iceCandidates, [
		{ foundation: 'udpcandidate', priority: priority(0), ip: '127.0.0.1', address: '127.0.0.1', protocol: 'udp', port: u.port, type: 'host' },
		{ foundation: 'tcpcandidate', priority: priority(1, true), ip: 'media.example.com', address: 'media.example.com', protocol: 'tcp', port: t.port, type: 'host', tcpType: 'passive' },
		{ foundation: 'tcpcandidate', priority: priority(1, true) - 1000, ip: '127.0.0.1', address: '127.0.0.1', protocol: 'tcp', port: t.port, type: 'host', tcpType: 'passive' },
	]);
	assert.match(transport.iceParameters.usernameFragment, /^[a-z0-9]{32}$/);
	assert.match(transport.iceParameters.password, /^[a-z0-9]{32}$/);
	// Skipped protocols still count in the priorities.
	const tcpOnly = await router.createWebRtcTransport({ webRtcServer: server, enableUdp: false });
	assert.deepStrictEqual(tcpOnly.iceCandidates.map((c) => [c.protocol, c.priority]), [['tcp', priority(1)], ['tcp', priority(1) - 1000]]);
	const dump = await server.dump();
	assert.deepStrictEqual(dump.webRtcTransportIds.sort(), [transport.id, tcpOnly.id].sort());
	assert.deepStrictEqual(
		dump.localIceUsernameFragments.map((f) => [f.localIceUsernameFragment, f.webRtcTransportId]).sort(),
		[[transport.iceParameters.usernameFragment, transport.id], [tcpOnly.iceParameters.usernameFragment, tcpOnly.id]].sort()
	);
	// restartIce(): the new ufrag is registered, the old one kept until the peer uses the new.
	const old = transport.iceParameters.usernameFragment;
	const params = await transport.restartIce();
	assert.match(params.usernameFragment, /^[a-z0-9]{32}$/);
	assert.deepStrictEqual(transport.iceParameters, params);
	const mine = (await server.dump()).localIceUsernameFragments.filter((f) => f.webRtcTransportId === transport.id).map((f) => f.localIceUsernameFragment);
	assert.deepStrictEqual(mine.sort(), [old, params.usernameFragment].sort());

	// No candidate left, an unknown server, a closed one.
	const udpOnly = await worker.createWebRtcServer({ listenInfos: [UDP] });
	await assert.rejects(router.createWebRtcTransport({ webRtcServer: udpOnly, enableUdp: false }), { name: 'TypeError', message: 'empty iceCandidates' });
	udpOnly.close();
	await assert.rejects(router.createWebRtcTransport({ webRtcServer: udpOnly }), { name: 'Error', message: 'wrong webRtcServerId (no associated WebRtcServer found)' });
	await assert.rejects(router.createWebRtcTransport({ webRtcServer: server, listenInfos: [UDP], listenIps: ['127.0.0.1'] }), {
		name: 'TypeError',
		message: 'only one of webRtcServer, listenInfos and listenIps must be given',
	});
	// A server of another worker is unknown to this one.
	const otherWorker = await ferrosoup.createWorker();
	const foreign = await otherWorker.createWebRtcServer({ listenInfos: [UDP] });
	await assert.rejects(router.createWebRtcTransport({ webRtcServer: foreign }), /wrong webRtcServerId/);
	otherWorker.close();

	// transport.close(): unhandled by the server, gone from its dump.
	const unhandled = once(server.observer, 'webrtctransportunhandled');
	tcpOnly.close();
	assert.deepStrictEqual(await unhandled, [tcpOnly]);
	assert.deepStrictEqual((await server.dump()).webRtcTransportIds, [transport.id]);
	transport.close();
	server.close();
});

test('server.close(): transports get listenserverclose, their producers transportclose; then dump() is NotFound', async () => {
	const server = await worker.createWebRtcServer({ listenInfos: [UDP, TCP] });
	const a = await router.createWebRtcTransport({ webRtcServer: server });
	const b = await router.createWebRtcTransport({ webRtcServer: server });
	const own = await router.createWebRtcTransport({ listenInfos: [UDP] });
	const producer = await a.produce({
		kind: 'audio',
		rtpParameters: { mid: '0', codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: 1234 }] },
	});
	const consumer = await own.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities });
	const events = [];
	for (const [name, t] of [['a', a], ['b', b]]) {
		t.on('listenserverclose', () => events.push(`${name}:listenserverclose`));
		t.on('routerclose', () => events.push(`${name}:routerclose`));
		t.observer.on('close', () => events.push(`${name}.observer:close`));
	}
	producer.on('transportclose', () => events.push('producer:transportclose'));
	server.observer.on('webrtctransportunhandled', (t) => events.push(`server.observer:webrtctransportunhandled:${t === a ? 'a' : 'b'}`));
	server.observer.on('close', () => events.push('server.observer:close'));
	const producerGone = once(consumer, 'producerclose');
	server.close();
	assert.deepStrictEqual(events, [
		'producer:transportclose',
		'a:listenserverclose',
		'a.observer:close',
		'server.observer:webrtctransportunhandled:a',
		'b:listenserverclose',
		'b.observer:close',
		'server.observer:webrtctransportunhandled:b',
		'server.observer:close',
	]);
	assert.equal(server.closed, true);
	for (const t of [a, b]) {
		assert.equal(t.closed, true);
		assert.equal(t.iceState, 'closed');
		assert.equal(t.dtlsState, 'closed');
		assert.equal(t.iceSelectedTuple, undefined);
	}
	assert.equal(producer.closed, true);
	// The worker closed the producer too: its consumer on another transport hears it.
	await producerGone;
	assert.equal(consumer.closed, true);
	await assert.rejects(server.dump(), { name: 'NotFoundError', message: `Channel request handler with ID ${server.id} not found [method:WEBRTCSERVER_DUMP]` });
	assert.ok((await server.dump().catch((e) => e)) instanceof NotFoundError);
	server.close();
	const d = await router.dump();
	assert.deepStrictEqual(d.transportIds, [own.id]);
	own.close();
});

test('router.close() and worker.close(): routerclose for transports, workerclose for the server, as mediasoup', async () => {
	const w = await ferrosoup.createWorker();
	const r = await w.createRouter({ mediaCodecs: codecs.opusVp8 });
	const server = await w.createWebRtcServer({ listenInfos: [UDP] });
	const t1 = await r.createWebRtcTransport({ webRtcServer: server });
	// router.close(): the worker forgets the transport at once; the server's JS map keeps it
	// until the server closes (mediasoup 3.27 does the same).
	r.close();
	assert.equal(t1.closed, true);
	assert.deepStrictEqual((await server.dump()).webRtcTransportIds, []);
	assert.equal(server.webRtcTransportsForTesting.size, 1);

	const r2 = await w.createRouter({ mediaCodecs: codecs.opusVp8 });
	const t2 = await r2.createWebRtcTransport({ webRtcServer: server });
	const events = [];
	t2.on('routerclose', () => events.push('transport:routerclose'));
	t2.on('listenserverclose', () => events.push('transport:listenserverclose'));
	server.on('workerclose', () => events.push('server:workerclose'));
	server.observer.on('close', () => events.push('server.observer:close'));
	w.close();
	assert.deepStrictEqual(events, ['transport:routerclose', 'server:workerclose', 'server.observer:close']);
	assert.equal(server.closed, true);
	await assert.rejects(server.dump(), { name: 'WorkerClosedError', message: 'Channel closed, cannot send request [method:WEBRTCSERVER_DUMP]' });

	// mediasoup's own WebRtcServer class, over a channel closed as a worker's is, does the same.
	const { WebRtcServerImpl } = require(require('node:path').join(oracle.root, 'WebRtcServer.js'));
	const errors = require(require('node:path').join(oracle.root, 'errors.js'));
	const closedChannel = {
		async request(method) {
			throw new errors.WorkerClosedError(`Channel closed, cannot send request [method:${method}]`);
		},
	};
	const ms = new WebRtcServerImpl({ internal: { webRtcServerId: 'x' }, channel: closedChannel, appData: undefined });
	const msEvents = [];
	ms.on('workerclose', () => msEvents.push('server:workerclose'));
	ms.observer.on('close', () => msEvents.push('server.observer:close'));
	ms.workerClosed();
	assert.deepStrictEqual(msEvents, events.slice(1));
	const msError = await ms.dump().catch((e) => e);
	const ours = await server.dump().catch((e) => e);
	assert.equal(ours.name, msError.name);
	assert.equal(ours.constructor.name, msError.constructor.name);
	// close() after either is a no-op in both.
	ms.close();
	server.close();
	assert.deepStrictEqual(msEvents, events.slice(1));
	await assert.rejects(w.createWebRtcServer({ listenInfos: [UDP] }), WorkerClosedError);
});

test('media through one server socket: a native publisher and viewers, strangers dropped and counted', async () => {
	const binding = require('../crates/tools-node');
	const server = await worker.createWebRtcServer({ listenInfos: [UDP] });
	const dtlsParameters = JSON.parse(binding.nativeViewerDtlsParameters());
	const send = await router.createWebRtcTransport({ webRtcServer: server });
	await send.connect({ dtlsParameters });
	const producer = await send.produce({
		kind: 'video',
		rtpParameters: { mid: '0', codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000 }], encodings: [{ ssrc: 55667788 }] },
	});
	const publishing = binding.nativePublish(JSON.stringify({
		iceParameters: send.iceParameters, iceCandidates: send.iceCandidates, dtlsParameters: send.dtlsParameters,
		videoSsrc: 55667788, audioSsrc: 0, videoKbps: 400, durationMs: 4000,
	}));
	const viewers = [];
	for (let i = 0; i < 5; i++) {
		const recv = await router.createWebRtcTransport({ webRtcServer: server });
		const consumer = await recv.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities });
		await recv.connect({ dtlsParameters });
		viewers.push({ recv, consumer });
	}
	const port = (await server.dump()).udpSockets[0].port;
	for (const { recv } of [{ recv: send }, ...viewers]) {
		assert.deepStrictEqual(recv.iceCandidates.map((c) => c.port), [port]);
	}
	// A stranger sends STUN with an unknown ufrag and RTP from an unknown tuple.
	const stranger = dgram.createSocket('udp4');
	const stun = Buffer.alloc(20);
	stun.writeUInt16BE(0x0001, 0);
	stun.writeUInt32BE(0x2112a442, 4);
	const rtp = Buffer.from([0x80, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4]);
	await new Promise((r) => stranger.send(stun, port, '127.0.0.1', r));
	await new Promise((r) => stranger.send(rtp, port, '127.0.0.1', r));
	const results = await Promise.all(viewers.map(({ recv, consumer }) => binding.nativeViewerWatch(JSON.stringify({
		iceParameters: recv.iceParameters, iceCandidates: recv.iceCandidates, dtlsParameters: recv.dtlsParameters,
		videoSsrc: consumer.rtpParameters.encodings[0].ssrc, mimeType: 'video/VP8', timeoutMs: 15000,
	}))));
	for (const r of results) assert.ok(JSON.parse(r).firstKeyFrameMs > 0);
	assert.ok(JSON.parse(await publishing).videoPackets > 0);
	for (const { recv } of viewers) assert.equal(recv.dtlsState, 'connected');
	const { drops } = await server.dump();
	assert.equal(drops.unknownUfrag, 1);
	assert.ok(drops.unknownTuple >= 1);
	stranger.close();
	server.close();
});
