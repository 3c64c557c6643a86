'use strict';

// PlainTransport: mediasoup 3.27's API (shapes, validation, errors, cascades), strangers
// dropped, and SRTP in every suite between two PlainTransports (fed by DirectTransports).
// ffmpeg as a peer: plain-ffmpeg.test.js.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { once } = require('node:events');
const dgram = require('node:dgram');
const ferrosoup = require('..');
const codecs = require('./lib/codecs');
const rtp = require('./lib/rtp');

const { NotFoundError, WorkerClosedError } = ferrosoup.errors;
const LOCAL = { protocol: 'udp', ip: '127.0.0.1' };
let worker;
let router;

before(async () => {
	worker = await ferrosoup.createWorker({ rtcMinPort: 47000, rtcMaxPort: 47999 });
	router = await worker.createRouter({ mediaCodecs: codecs.opusVp8 });
});
after(() => worker.close());

test('createPlainTransport(): shapes, defaults and mediasoup\'s argument errors', async () => {
	const t = await router.createPlainTransport({ listenInfo: { ...LOCAL, announcedAddress: 'media.example.com' }, appData: { a: 1 } });
	assert.equal(t.type, 'plain');
	assert.deepStrictEqual(t.appData, { a: 1 });
	assert.deepStrictEqual(Object.keys(t.tuple), ['localIp', 'localAddress', 'localPort', 'remoteIp', 'remotePort', 'protocol']);
	assert.equal(t.tuple.localAddress, 'media.example.com');
	assert.equal(t.tuple.remoteIp, undefined);
	assert.equal(t.tuple.remotePort, 0);
	assert.ok(t.tuple.localPort >= 47000 && t.tuple.localPort <= 47999);
	assert.equal(t.rtcpTuple, undefined);
	assert.equal(t.srtpParameters, undefined);
	assert.equal(t.sctpParameters, undefined);
	assert.equal(t.sctpState, undefined);
	const dump = await t.dump();
	assert.equal(dump.id, t.id);
	assert.equal(dump.rtcpMux, true);
	assert.equal(dump.comedia, false);
	assert.deepStrictEqual(dump.tuple, t.tuple);
	const [stats] = await t.getStats();
	assert.equal(stats.type, 'plain-rtp-transport');
	assert.equal(stats.bytesReceived, 0);
	assert.equal(stats.rtcpTuple, undefined);
	t.close();

	// rtcpListenInfo turns rtcpMux off; listenIp (string) is the older form.
	const split = await router.createPlainTransport({ listenIp: '127.0.0.1', rtcpListenInfo: LOCAL });
	assert.equal(split.rtcpTuple.localIp, '127.0.0.1');
	assert.notEqual(split.rtcpTuple.localPort, split.tuple.localPort);
	assert.equal((await split.dump()).rtcpMux, false);
	split.close();

	// SRTP keys: ASCII letters/digits of the suite's master length, base64.
	for (const [suite, length] of [['AES_CM_128_HMAC_SHA1_80', 40], ['AES_CM_128_HMAC_SHA1_32', 40], ['AEAD_AES_128_GCM', 40], ['AEAD_AES_256_GCM', 60]]) {
		const s = await router.createPlainTransport({ listenInfo: LOCAL, enableSrtp: true, srtpCryptoSuite: suite });
		assert.equal(s.srtpParameters.cryptoSuite, suite);
		assert.equal(s.srtpParameters.keyBase64.length, length, suite);
		assert.match(Buffer.from(s.srtpParameters.keyBase64, 'base64').toString(), /^[a-z0-9]+$/);
		s.close();
	}

	await assert.rejects(router.createPlainTransport(), TypeError);
	await assert.rejects(router.createPlainTransport({}), { name: 'TypeError', message: 'missing listenInfo and listenIp (one of them is mandatory)' });
	await assert.rejects(router.createPlainTransport({ listenInfo: LOCAL, listenIp: '127.0.0.1' }), { message: 'only one of listenInfo and listenIp must be given' });
	await assert.rejects(router.createPlainTransport({ listenInfo: LOCAL, appData: 'x' }), { message: 'if given, appData must be an object' });
	await assert.rejects(router.createPlainTransport({ listenInfo: LOCAL, srtpCryptoSuite: 'NOPE' }), { name: 'TypeError', message: 'invalid SrtpCryptoSuite: NOPE' });
	await assert.rejects(router.createPlainTransport({ listenInfo: { protocol: 'tcp', ip: '127.0.0.1' } }), { name: 'TypeError', message: 'unsupported listen protocol' });
	await assert.rejects(router.createPlainTransport({ listenIp: '123' }), { name: 'TypeError', message: "invalid IP '123'" });
	const withSctp = await router.createPlainTransport({ listenInfo: LOCAL, enableSctp: true });
	assert.equal(withSctp.sctpParameters.isDataChannel, false);
	assert.equal(withSctp.sctpState, 'new');
	withSctp.close();
	// A fixed port taken by the RTP socket cannot serve RTCP too (mediasoup copies it).
	const fixed = (await router.createPlainTransport({ listenInfo: LOCAL })).tuple.localPort;
	await assert.rejects(router.createPlainTransport({ listenInfo: { ...LOCAL, port: fixed } }), /address already in use/);
});

test('connect(): mediasoup\'s checks and tuples; a second connect() is refused', async () => {
	const t = await router.createPlainTransport({ listenInfo: LOCAL, rtcpMux: false });
	await assert.rejects(t.connect({ port: 5000, rtcpPort: 5001 }), { name: 'TypeError', message: 'missing ip' });
	await assert.rejects(t.connect({ ip: '127.0.0.1', rtcpPort: 5001 }), { name: 'TypeError', message: 'missing port' });
	await assert.rejects(t.connect({ ip: '127.0.0.1', port: 5000 }), { name: 'TypeError', message: 'missing rtcpPort (required with rtcpMux disabled)' });
	await assert.rejects(t.connect({ ip: 'x.y', port: 5000, rtcpPort: 5001 }), { name: 'TypeError', message: "invalid IP 'x.y'" });
	await assert.rejects(t.connect({ ip: '127.0.0.1', port: 5000, rtcpPort: 5001, srtpParameters: { cryptoSuite: 'AEAD_AES_256_GCM', keyBase64: 'AAAA' } }), {
		name: 'TypeError', message: 'invalid srtpParameters (SRTP not enabled)',
	});
	await assert.rejects(t.connect({ ip: '127.0.0.1', port: 5000, rtcpPort: 5001, srtpParameters: { cryptoSuite: 'X', keyBase64: 'AAAA' } }), { message: 'invalid SrtpCryptoSuite: X' });
	await t.connect({ ip: '127.0.0.1', port: 5000, rtcpPort: 5001 });
	assert.equal(t.tuple.remoteIp, '127.0.0.1');
	assert.equal(t.tuple.remotePort, 5000);
	assert.equal(t.rtcpTuple.remotePort, 5001);
	assert.deepStrictEqual((await t.dump()).rtcpTuple, t.rtcpTuple);
	await assert.rejects(t.connect({ ip: '127.0.0.1', port: 5000, rtcpPort: 5001 }), { name: 'Error', message: 'connect() already called' });
	t.close();

	const muxed = await router.createPlainTransport({ listenInfo: LOCAL });
	await assert.rejects(muxed.connect({ ip: '127.0.0.1', port: 5000, rtcpPort: 5001 }), { message: 'cannot set rtcpPort with rtcpMux enabled' });
	muxed.close();

	const srtp = await router.createPlainTransport({ listenInfo: LOCAL, enableSrtp: true });
	await assert.rejects(srtp.connect({ ip: '127.0.0.1', port: 5000 }), { name: 'TypeError', message: 'missing srtpParameters (SRTP enabled)' });
	await assert.rejects(srtp.connect({ ip: '127.0.0.1', port: 5000, srtpParameters: { cryptoSuite: 'AES_CM_128_HMAC_SHA1_80', keyBase64: Buffer.alloc(29).toString('base64') } }), {
		name: 'TypeError', message: 'invalid decoded SRTP key length',
	});
	// Another suite than the one created with: a new local key for it.
	await srtp.connect({ ip: '127.0.0.1', port: 5000, srtpParameters: { cryptoSuite: 'AEAD_AES_256_GCM', keyBase64: Buffer.alloc(44, 7).toString('base64') } });
	assert.equal(srtp.srtpParameters.cryptoSuite, 'AEAD_AES_256_GCM');
	assert.equal(srtp.srtpParameters.keyBase64.length, 60);
	srtp.close();

	// comedia: ip and ports are ignored (no error), the remote comes from the first packet.
	const comedia = await router.createPlainTransport({ listenInfo: LOCAL, comedia: true });
	await comedia.connect({});
	assert.equal(comedia.tuple.remotePort, 0);
	comedia.close();
});

test('only the connected or learned endpoint is heard; the rest is dropped and counted', async () => {
	const t = await router.createPlainTransport({ listenInfo: LOCAL, comedia: true });
	const producer = await t.produce({ kind: 'audio', rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: 4242 }] } });
	const peer = dgram.createSocket('udp4');
	const stranger = dgram.createSocket('udp4');
	await Promise.all([peer, stranger].map((s) => new Promise((r) => s.bind(0, '127.0.0.1', r))));
	const send = (s, seq) => new Promise((r) => s.send(rtp.packet({ pt: 100, seq, ts: seq * 960, ssrc: 4242, payload: Buffer.alloc(80, 1) }), t.tuple.localPort, '127.0.0.1', r));
	const learned = once(t, 'tuple');
	await send(peer, 1);
	const [tuple] = await learned;
	assert.equal(tuple.remotePort, peer.address().port);
	for (let i = 0; i < 5; i++) await send(stranger, 10 + i);
	for (let i = 2; i < 12; i++) await send(peer, i);
	const waitStats = async (pred) => {
		for (let i = 0; i < 200; i++) {
			const [s] = await t.getStats();
			if (pred(s)) return s;
			await new Promise((r) => setTimeout(r, 10));
		}
		throw new Error('stats never got there');
	};
	const s = await waitStats((x) => x.drops.invalidTuple === 5 && x.rtpBytesReceived >= 11 * 92);
	assert.equal(s.drops.invalidTuple, 5);
	const [ps] = await producer.getStats();
	assert.equal(ps.packetCount, 11);
	peer.close();
	stranger.close();
	t.close();
});

test('SRTP in every suite between two PlainTransports carries a stream end to end', async () => {
	for (const suite of ['AEAD_AES_256_GCM', 'AEAD_AES_128_GCM', 'AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32']) {
		const r1 = await worker.createRouter({ mediaCodecs: codecs.opusVp8 });
		const r2 = await worker.createRouter({ mediaCodecs: codecs.opusVp8 });
		const input = await r1.createDirectTransport();
		const producer = await input.produce({ kind: 'video', rtpParameters: rtp.vp8Parameters(7777) });
		const a = await r1.createPlainTransport({ listenInfo: LOCAL, enableSrtp: true, srtpCryptoSuite: suite });
		const b = await r2.createPlainTransport({ listenInfo: LOCAL, enableSrtp: true, srtpCryptoSuite: suite });
		await a.connect({ ip: '127.0.0.1', port: b.tuple.localPort, srtpParameters: b.srtpParameters });
		await b.connect({ ip: '127.0.0.1', port: a.tuple.localPort, srtpParameters: a.srtpParameters });
		const pipe = await a.consume({ producerId: producer.id, rtpCapabilities: r1.rtpCapabilities });
		const far = await b.produce({ kind: 'video', rtpParameters: pipe.rtpParameters });
		const output = await r2.createDirectTransport();
		const consumer = await output.consume({ producerId: far.id, rtpCapabilities: r2.rtpCapabilities });
		const got = [];
		consumer.on('rtp', (packet) => got.push(packet));
		for (let i = 0; i < 30; i++) {
			producer.send(rtp.vp8Packet({ seq: 100 + i, ts: 3000 * i, ssrc: 7777, key: i === 0 }));
		}
		const deadline = Date.now() + 10000;
		while (got.length < 30 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
		// All 30 arrive, in order. (More may follow: the far router's first key frame request
		// can reach this side after the stream, which then restarts it from its cache.)
		assert.ok(got.length >= 30, `${suite}: ${got.length}`);
		const seqs = got.slice(0, 30).map((p) => p.readUInt16BE(2));
		assert.ok(seqs.every((q, i) => i === 0 || q === ((seqs[i - 1] + 1) & 0xffff)), `${suite}: ${seqs}`);
		assert.equal(got[0].readUInt32BE(8), consumer.rtpParameters.encodings[0].ssrc);
		const [bs] = await b.getStats();
		assert.equal(bs.drops.srtpAuth, 0);
		r1.close();
		r2.close();
	}
});

test('close cascades; calls on closed objects reject as mediasoup', async () => {
	const t = await router.createPlainTransport({ listenInfo: LOCAL });
	const producer = await t.produce({ kind: 'video', rtpParameters: rtp.vp8Parameters(9191) });
	const other = await router.createDirectTransport();
	const consumer = await other.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities });
	const events = [];
	producer.on('transportclose', () => events.push('producer:transportclose'));
	t.observer.on('close', () => events.push('transport.observer:close'));
	const gone = once(consumer, 'producerclose');
	t.close();
	assert.deepStrictEqual(events, ['producer:transportclose', 'transport.observer:close']);
	await gone;
	await assert.rejects(t.dump(), NotFoundError);
	await assert.rejects(t.connect({ ip: '127.0.0.1', port: 1 }), NotFoundError);
	const r = await worker.createRouter({ mediaCodecs: codecs.opusVp8 });
	const u = await r.createPlainTransport({ listenInfo: LOCAL });
	const closed = once(u, 'routerclose');
	r.close();
	await closed;
	assert.equal(u.closed, true);
	const w = await ferrosoup.createWorker();
	const wr = await w.createRouter({ mediaCodecs: codecs.opusVp8 });
	const v = await wr.createPlainTransport({ listenInfo: LOCAL });
	w.close();
	await assert.rejects(v.getStats(), WorkerClosedError);
});
