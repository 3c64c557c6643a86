'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const ferrosoup = require('..');
const oracle = require('./lib/oracle');
const codecs = require('./lib/codecs');
const rtp = require('./lib/rtp');

const { UnsupportedError } = ferrosoup.errors;
let worker;

before(async () => {
	worker = await ferrosoup.createWorker();
});
after(() => worker.close());

test('createRouter(): id, appData, rtpCapabilities exactly as mediasoup computes them', async () => {
	const newRouters = [];
	worker.observer.on('newrouter', (r) => newRouters.push(r));
	for (const mediaCodecs of [codecs.opusVp8, codecs.full, []]) {
		const router = await worker.createRouter({ mediaCodecs: structuredClone(mediaCodecs), appData: { room: 'a' } });
		assert.match(router.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
		assert.deepStrictEqual(router.appData, { room: 'a' });
		assert.equal(router.closed, false);
		assert.deepStrictEqual(
			router.rtpCapabilities,
			oracle.ortc.generateRouterRtpCapabilities(structuredClone(mediaCodecs))
		);
		router.close();
	}
	assert.equal(newRouters.length, 3);
	const router = await worker.createRouter();
	assert.deepStrictEqual(router.appData, {});
	assert.deepStrictEqual(router.rtpCapabilities.codecs, []);
	router.close();
});

test('createRouter() does not modify its input and returns copies of the capabilities', async () => {
	const input = structuredClone(codecs.opusVp8);
	const router = await worker.createRouter({ mediaCodecs: input });
	assert.deepStrictEqual(input, codecs.opusVp8);
	const caps = router.rtpCapabilities;
	caps.codecs.length = 0;
	assert.ok(router.rtpCapabilities.codecs.length > 0);
	router.close();
});

test('createRouter() rejects bad input with mediasoup\'s error classes', async () => {
	await assert.rejects(
		worker.createRouter({ mediaCodecs: [{ kind: 'audio', mimeType: 'audio/chicken', clockRate: 8000 }] }),
		(e) => e instanceof UnsupportedError && e.message === 'media codec not supported [mimeType:audio/chicken]'
	);
	await assert.rejects(worker.createRouter({ mediaCodecs: [{ mimeType: 'audio/opus' }] }), TypeError);
	await assert.rejects(worker.createRouter({ mediaCodecs: 'opus' }), TypeError);
	await assert.rejects(worker.createRouter({ appData: 'x' }), TypeError);
	// Nothing half-created.
	assert.deepStrictEqual((await worker.dump()).routerIds, []);
});

test('close(): observer close, removed from the worker (also natively)', async () => {
	const router = await worker.createRouter({ mediaCodecs: codecs.opusVp8 });
	const events = [];
	router.observer.on('close', () => events.push('close'));
	router.on('workerclose', () => events.push('workerclose'));
	router.close();
	router.close();
	assert.equal(router.closed, true);
	assert.deepStrictEqual(events, ['close']);
	assert.equal(worker.routersForTesting.has(router), false);
	assert.deepStrictEqual((await worker.dump()).routerIds, []);
	await assert.rejects(router.dump(), Error);
});

test('dump() in mediasoup\'s shape', async () => {
	const router = await worker.createRouter({ mediaCodecs: codecs.opusVp8 });
	assert.deepStrictEqual(await router.dump(), {
		id: router.id,
		transportIds: [],
		rtpObserverIds: [],
		mapProducerIdConsumerIds: [],
		mapConsumerIdProducerId: [],
		mapProducerIdObserverIds: [],
		mapDataProducerIdDataConsumerIds: [],
		mapDataConsumerIdDataProducerId: [],
	});
	router.close();
});

test('canConsume() is synchronous and false for an unknown producer', async () => {
	const router = await worker.createRouter({ mediaCodecs: codecs.opusVp8 });
	const r = router.canConsume({ producerId: 'nope', rtpCapabilities: router.rtpCapabilities });
	assert.equal(r, false);
	assert.equal(router.canConsume({ producerId: undefined, rtpCapabilities: undefined }), false);
	router.close();
});

test('canConsume() answers each capabilities content, asked again or changed in place', async () => {
	const router = await worker.createRouter({ mediaCodecs: codecs.opusVp8 });
	const t = await router.createDirectTransport();
	const producer = await t.produce({ kind: 'video', rtpParameters: rtp.vp8Parameters(4242) });
	const caps = structuredClone(router.rtpCapabilities);
	for (let i = 0; i < 3; i++) assert.equal(router.canConsume({ producerId: producer.id, rtpCapabilities: caps }), true);
	// The same object, now without video: the answer follows its content (answers are kept by
	// content, not by object).
	const video = caps.codecs.filter((c) => c.kind === 'video');
	caps.codecs = caps.codecs.filter((c) => c.kind !== 'video');
	assert.equal(router.canConsume({ producerId: producer.id, rtpCapabilities: caps }), false);
	caps.codecs.push(...video);
	assert.equal(router.canConsume({ producerId: producer.id, rtpCapabilities: caps }), true);
	// Invalid capabilities: false every time (mediasoup logs the TypeError).
	for (let i = 0; i < 2; i++) assert.equal(router.canConsume({ producerId: producer.id, rtpCapabilities: { codecs: 'x' } }), false);
	// Many distinct capabilities (more than are remembered), then the first again.
	for (let i = 0; i < 20; i++) {
		const other = structuredClone(router.rtpCapabilities);
		other.headerExtensions = other.headerExtensions.slice(0, i % other.headerExtensions.length);
		other.codecs[0].preferredPayloadType = 100 + (i % 27);
		assert.equal(router.canConsume({ producerId: producer.id, rtpCapabilities: other }), true);
	}
	assert.equal(router.canConsume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities }), true);
	router.close();
});

test('rtpCapabilities and a consumer\'s rtpParameters are fresh copies each time', async () => {
	const router = await worker.createRouter({ mediaCodecs: codecs.opusVp8 });
	const caps = router.rtpCapabilities;
	const expected = structuredClone(caps);
	caps.codecs.length = 0;
	caps.headerExtensions[0].uri = 'changed';
	assert.notStrictEqual(router.rtpCapabilities, router.rtpCapabilities);
	assert.deepStrictEqual(router.rtpCapabilities, expected);
	const t = await router.createDirectTransport();
	const producer = await t.produce({ kind: 'video', rtpParameters: rtp.vp8Parameters(4343) });
	const consumer = await t.consume({ producerId: producer.id, rtpCapabilities: expected });
	const params = consumer.rtpParameters;
	const kept = structuredClone(params);
	params.codecs[0].payloadType = 1;
	params.encodings.pop();
	assert.deepStrictEqual(consumer.rtpParameters, kept);
	router.close();
});

test('updateMediaCodecs() recomputes capabilities synchronously, throwing like createRouter()', async () => {
	const router = await worker.createRouter({ mediaCodecs: codecs.opusVp8 });
	router.updateMediaCodecs(structuredClone(codecs.full));
	assert.deepStrictEqual(router.rtpCapabilities, oracle.ortc.generateRouterRtpCapabilities(structuredClone(codecs.full)));
	assert.throws(() => router.updateMediaCodecs([{ mimeType: 'video/nope', clockRate: 90000 }]), UnsupportedError);
	assert.throws(() => router.updateMediaCodecs([{ mimeType: 'video/VP8' }]), TypeError);
	// A failed update leaves the previous capabilities.
	assert.equal(router.rtpCapabilities.codecs.length, oracle.ortc.generateRouterRtpCapabilities(structuredClone(codecs.full)).codecs.length);
	router.close();
});

test('nothing of mediasoup\'s API rejects with UnsupportedError for being unbuilt', async () => {
	const router = await worker.createRouter({ mediaCodecs: codecs.opusVp8 });
	const made = await Promise.all([
		router.createPipeTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, enableSctp: true }),
		router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, enableSctp: true }),
		router.createWebRtcTransport({ listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }], enableSctp: true }),
		router.createDirectTransport().then((t) => t.produceData()),
		router.createActiveSpeakerObserver(),
		router.createAudioLevelObserver(),
	]);
	assert.equal(made.length, 6);
	for (const t of made.slice(0, 3)) assert.equal(t.sctpState, 'new');
	router.close();
});

test('many routers across workers are independent', async () => {
	const workers = await Promise.all([1, 2, 3].map(() => ferrosoup.createWorker()));
	const routers = await Promise.all(workers.flatMap((w) => [1, 2].map(() => w.createRouter({ mediaCodecs: codecs.opusVp8 }))));
	assert.equal(new Set(routers.map((r) => r.id)).size, 6);
	for (const w of workers) {
		assert.equal((await w.dump()).routerIds.length, 2);
	}
	workers[0].close();
	assert.equal(routers[0].closed, true);
	assert.equal(routers[2].closed, false);
	assert.equal((await workers[1].dump()).routerIds.length, 2);
	for (const w of workers.slice(1)) w.close();
});
