'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const dgram = require('node:dgram');
const net = require('node:net');
const ferrosoup = require('..');
const codecs = require('./lib/codecs');

const { UnsupportedError, WorkerClosedError } = ferrosoup.errors;
const UDP = [{ protocol: 'udp', ip: '127.0.0.1' }];
let worker;
let router;

before(async () => {
	worker = await ferrosoup.createWorker({ rtcMinPort: 42000, rtcMaxPort: 42999 });
	router = await worker.createRouter({ mediaCodecs: codecs.opusVp8 });
});
after(() => worker.close());

test('properties in mediasoup\'s shapes', async () => {
	const transport = await router.createWebRtcTransport({ listenInfos: UDP, appData: { peer: 'a' } });
	assert.equal(transport.type, 'webrtc');
	assert.match(transport.id, /^[0-9a-f-]{36}$/);
	assert.deepStrictEqual(transport.appData, { peer: 'a' });
	assert.equal(transport.iceRole, 'controlled');
	assert.equal(transport.iceState, 'new');
	assert.equal(transport.dtlsState, 'new');
	assert.equal(transport.iceSelectedTuple, undefined);
	assert.equal(transport.dtlsRemoteCert, undefined);
	const { usernameFragment, password, iceLite } = transport.iceParameters;
	assert.match(usernameFragment, /^[a-z0-9]{16}$/);
	assert.match(password, /^[a-z0-9]{32}$/);
	assert.equal(iceLite, true);
	const [c] = transport.iceCandidates;
	assert.deepStrictEqual(Object.keys(c), ['foundation', 'priority', 'ip', 'address', 'protocol', 'port', 'type']);
	assert.equal(c.ip, '127.0.0.1');
	assert.ok(c.port >= 42000 && c.port <= 42999, String(c.port));
	assert.equal(transport.dtlsParameters.role, 'auto');
	assert.deepStrictEqual(
		transport.dtlsParameters.fingerprints.map((f) => f.algorithm),
		['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512']
	);
	for (const f of transport.dtlsParameters.fingerprints) assert.match(f.value, /^([0-9A-F]{2}:)+[0-9A-F]{2}$/);
	// Every transport of a worker shares the worker's certificate.
	const other = await router.createWebRtcTransport({ listenInfos: UDP });
	assert.deepStrictEqual(other.dtlsParameters.fingerprints, transport.dtlsParameters.fingerprints);
	assert.notEqual(other.iceParameters.usernameFragment, usernameFragment);
	assert.deepStrictEqual((await router.dump()).transportIds, [transport.id, other.id]);
	transport.close();
	other.close();
});

test('listenInfos: TCP, announcedAddress, fixed port, port range; listenIps form', async () => {
	const t1 = await router.createWebRtcTransport({
		listenInfos: [
			{ protocol: 'udp', ip: '127.0.0.1', announcedAddress: 'media.example.com' },
			{ protocol: 'tcp', ip: '127.0.0.1', portRange: { min: 43100, max: 43110 } },
		],
	});
	const [u, t] = t1.iceCandidates;
	assert.equal(u.address, 'media.example.com');
	assert.equal(t.protocol, 'tcp');
	assert.equal(t.tcpType, 'passive');
	assert.ok(t.port >= 43100 && t.port <= 43110);
	assert.ok(u.priority > t.priority);
	t1.close();
	const t2 = await router.createWebRtcTransport({ listenIps: ['127.0.0.1'], enableTcp: true, preferTcp: true });
	assert.deepStrictEqual(t2.iceCandidates.map((c) => c.protocol), ['tcp', 'udp']);
	t2.close();
	const t3 = await router.createWebRtcTransport({ listenInfos: [{ protocol: 'udp', ip: '127.0.0.1', port: 43200 }] });
	assert.equal(t3.iceCandidates[0].port, 43200);
	// The same fixed port again is taken.
	await assert.rejects(router.createWebRtcTransport({ listenInfos: [{ protocol: 'udp', ip: '127.0.0.1', port: 43200 }] }), Error);
	t3.close();
});

test('bad options reject with TypeError or UnsupportedError', async () => {
	await assert.rejects(router.createWebRtcTransport({}), TypeError);
	await assert.rejects(router.createWebRtcTransport(), TypeError);
	await assert.rejects(router.createWebRtcTransport({ listenInfos: [] }), TypeError);
	await assert.rejects(router.createWebRtcTransport({ listenInfos: [{ protocol: 'sctp', ip: '127.0.0.1' }] }), TypeError);
	await assert.rejects(router.createWebRtcTransport({ listenInfos: [{ protocol: 'udp' }] }), TypeError);
	await assert.rejects(router.createWebRtcTransport({ listenInfos: [{ protocol: 'udp', ip: 'not-an-ip' }] }), TypeError);
	await assert.rejects(router.createWebRtcTransport({ listenInfos: [{ protocol: 'udp', ip: '127.0.0.1', port: 70000 }] }), TypeError);
	await assert.rejects(router.createWebRtcTransport({ listenInfos: UDP, appData: 1 }), TypeError);
	assert.deepStrictEqual((await router.dump()).transportIds, []);
});

test('connect() checks its dtlsParameters and negotiates the role once', async () => {
	const transport = await router.createWebRtcTransport({ listenInfos: UDP });
	await assert.rejects(transport.connect({}), TypeError);
	await assert.rejects(transport.connect({ dtlsParameters: { fingerprints: [{ algorithm: 'md5', value: 'AA' }] } }), TypeError);
	await assert.rejects(transport.connect({ dtlsParameters: { fingerprints: [] } }), TypeError);
	await assert.rejects(transport.connect({ dtlsParameters: { role: 'boss', fingerprints: [{ algorithm: 'sha-256', value: 'AA' }] } }), TypeError);
	await transport.connect({ dtlsParameters: { role: 'server', fingerprints: [{ algorithm: 'sha-256', value: 'AA' }] } });
	assert.equal(transport.dtlsParameters.role, 'client');
	await assert.rejects(transport.connect({ dtlsParameters: { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: 'AA' }] } }), /already called/);
	transport.close();
});

test('restartIce(), bitrates, trace events, stats and dump', async () => {
	const transport = await router.createWebRtcTransport({ listenInfos: UDP, initialAvailableOutgoingBitrate: 1000000 });
	const before = transport.iceParameters;
	const after = await transport.restartIce();
	assert.notEqual(after.usernameFragment, before.usernameFragment);
	assert.deepStrictEqual(transport.iceParameters, after);
	await transport.setMaxIncomingBitrate(1500000);
	await transport.setMaxOutgoingBitrate(2000000);
	await transport.setMinOutgoingBitrate(100000);
	await assert.rejects(transport.setMinOutgoingBitrate(3000000), TypeError);
	await assert.rejects(transport.setMaxIncomingBitrate('fast'), TypeError);
	await transport.enableTraceEvent(['bwe', 'unknown']);
	await assert.rejects(transport.enableTraceEvent('bwe'), TypeError);
	const [stats] = await transport.getStats();
	assert.equal(stats.type, 'webrtc-transport');
	assert.equal(stats.transportId, transport.id);
	assert.equal(stats.maxIncomingBitrate, 1500000);
	assert.equal(stats.availableOutgoingBitrate, 1000000);
	for (const k of ['timestamp', 'bytesReceived', 'recvBitrate', 'bytesSent', 'sendBitrate', 'rtpBytesReceived', 'rtpBytesSent']) {
		assert.equal(typeof stats[k], 'number', k);
	}
	const dump = await transport.dump();
	assert.equal(dump.id, transport.id);
	assert.deepStrictEqual(dump.traceEventTypes, ['bwe']);
	assert.deepStrictEqual(dump.iceParameters, after);
	assert.equal(dump.iceState, 'new');
	assert.deepStrictEqual(dump.producerIds, []);
	transport.close();
	await assert.rejects(transport.getStats(), Error);
});

test('enableSctp gives sctpParameters and a new sctpState; without it data producers are refused', async () => {
	const plain = await router.createWebRtcTransport({ listenInfos: UDP });
	assert.strictEqual(plain.sctpParameters, undefined);
	assert.strictEqual(plain.sctpState, undefined);
	await assert.rejects(plain.produceData({}), TypeError);
	await assert.rejects(plain.produceData({ sctpStreamParameters: { streamId: 1 } }), /SCTP not enabled/);
	plain.close();
	const sctp = await router.createWebRtcTransport({ listenInfos: UDP, enableSctp: true, maxSctpMessageSize: 1, numSctpStreams: { OS: 2, MIS: 2 } });
	assert.deepStrictEqual(sctp.sctpParameters, {
		port: 5000, OS: 65535, MIS: 65535, isDataChannel: true, maxMessageSize: 262144,
		maxSendMessageSize: 262144, maxReceiveMessageSize: 262144, sendBufferSize: 2000000,
		perStreamSendQueueLimit: 2000000, maxReceiverWindowBufferSize: 5242880,
	});
	assert.strictEqual(sctp.sctpState, 'new');
	sctp.close();
});

test('close() frees the ports at once; events and cascades like mediasoup', async () => {
	const transport = await router.createWebRtcTransport({
		listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }, { protocol: 'tcp', ip: '127.0.0.1' }],
	});
	const [udpPort, tcpPort] = transport.iceCandidates.map((c) => c.port);
	const events = [];
	transport.observer.on('close', () => events.push('observer:close'));
	transport.on('routerclose', () => events.push('routerclose'));
	transport.close();
	assert.deepStrictEqual(events, ['observer:close']);
	// One round trip later both ports can be bound again.
	await worker.dump();
	const sock = dgram.createSocket('udp4');
	await new Promise((resolve, reject) => sock.once('error', reject).bind(udpPort, '127.0.0.1', resolve));
	sock.close();
	const server = net.createServer();
	await new Promise((resolve, reject) => server.once('error', reject).listen(tcpPort, '127.0.0.1', resolve));
	server.close();

	// Router close → routerclose on its transports; worker close → the same through routers.
	const r2 = await worker.createRouter({ mediaCodecs: codecs.opusVp8 });
	const t2 = await r2.createWebRtcTransport({ listenInfos: UDP });
	const seen = [];
	t2.on('routerclose', () => seen.push('routerclose'));
	t2.observer.on('close', () => seen.push('observer:close'));
	r2.close();
	assert.deepStrictEqual(seen, ['routerclose', 'observer:close']);
	assert.equal(t2.closed, true);
	assert.equal(t2.iceState, 'closed');
	const w2 = await ferrosoup.createWorker();
	const r3 = await w2.createRouter({ mediaCodecs: codecs.opusVp8 });
	const t3 = await r3.createWebRtcTransport({ listenInfos: UDP });
	w2.close();
	assert.equal(t3.closed, true);
	await assert.rejects(t3.getStats(), WorkerClosedError);
});

test('hostile datagrams are dropped: the transport stays usable and others are unaffected', async () => {
	const victim = await router.createWebRtcTransport({ listenInfos: UDP });
	const bystander = await router.createWebRtcTransport({ listenInfos: UDP });
	const sock = dgram.createSocket('udp4');
	const port = victim.iceCandidates[0].port;
	const junk = [
		Buffer.alloc(0),
		Buffer.from([0]),
		Buffer.alloc(20, 0), // STUN-looking, bad
		Buffer.alloc(100, 22), // DTLS-looking from an unknown tuple
		Buffer.concat([Buffer.from([0x80, 96]), Buffer.alloc(200, 1)]), // RTP before DTLS
		Buffer.alloc(1500, 0xff),
	];
	for (let i = 0; i < 200; i++) {
		await new Promise((r) => sock.send(junk[i % junk.length], port, '127.0.0.1', r));
	}
	sock.close();
	await worker.dump();
	const [stats] = await victim.getStats();
	assert.ok(stats.bytesReceived > 0);
	assert.equal(stats.iceState, 'new');
	assert.equal(stats.bytesSent, 0); // nothing answered
	assert.equal((await bystander.getStats())[0].bytesReceived, 0);
	victim.close();
	bystander.close();
});
