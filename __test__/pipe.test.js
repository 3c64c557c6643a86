'use strict';

// One room across worker threads: pipeToRouter() hands a producer's packets from worker A's
// router to worker B's in memory; a Chromium viewer on B decodes what a Chromium page sends to A.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { once } = require('node:events');
const ferrosoup = require('..');
const kit = require('./lib/browser');
const codecs = require('./lib/codecs');

const { NotFoundError } = ferrosoup.errors;
let workers;
let routerA;
let routerB;
let pages;
let browser;

before(async () => {
	workers = await Promise.all([1, 2].map(() => ferrosoup.createWorker({ rtcMinPort: 45000, rtcMaxPort: 45999 })));
	routerA = await workers[0].createRouter({ mediaCodecs: codecs.opusVp8 });
	routerB = await workers[1].createRouter({ mediaCodecs: codecs.opusVp8 });
	pages = await kit.startPageServer();
	browser = await kit.launchBrowser();
});

after(async () => {
	await browser?.close();
	await pages?.close();
	for (const w of workers ?? []) w.close();
});

const media = require('./lib/media');

test('pipeToRouter() argument checks', async () => {
	await assert.rejects(routerA.pipeToRouter({ router: routerB }), TypeError);
	await assert.rejects(routerA.pipeToRouter({ producerId: 'x' }), TypeError);
	await assert.rejects(routerA.pipeToRouter({ producerId: 'x', router: routerA }), TypeError);
	await assert.rejects(routerA.pipeToRouter({ producerId: 'x', router: routerB }), NotFoundError);
	await assert.rejects(routerA.pipeToRouter({ producerId: 'x', dataProducerId: 'y', router: routerB }), TypeError);
});

test('a producer on worker A is decoded by a viewer on worker B; closing cascades', async () => {
	const pub = await media.publish({ browser, url: pages.url, router: routerA });
	const { pipeConsumer, pipeProducer } = await routerA.pipeToRouter({ producerId: pub.producers.video.id, router: routerB });
	assert.equal(pipeConsumer.type, 'pipe');
	assert.equal(pipeConsumer.kind, 'video');
	assert.equal(pipeProducer.id, pub.producers.video.id, 'keepId');
	assert.equal(pipeProducer.kind, 'video');
	assert.equal(routerB.canConsume({ producerId: pipeProducer.id, rtpCapabilities: routerB.rtpCapabilities }), true);
	// The audio producer goes through the same pair of pipe transports.
	const audio = await routerA.pipeToRouter({ producerId: pub.producers.audio.id, router: routerB, keepId: false });
	assert.notEqual(audio.pipeProducer.id, pub.producers.audio.id);
	assert.equal((await routerB.dump()).transportIds.length, 1);

	const view = await media.view({ browser, url: pages.url, router: routerB, producers: { video: pipeProducer }, paused: false });
	view.consumer = view.consumers.video;
	await kit.waitFor(async () => (await view.received('video')).framesDecoded >= 10, 20000, 'frames decoded on worker B');
	const [stats] = await pipeProducer.getStats();
	assert.ok(stats.packetCount > 0);

	// Pausing the original pauses the pipe producer's consumers.
	const paused = once(view.consumer, 'producerpause');
	await pub.producers.video.pause();
	await paused;
	const resumed = once(view.consumer, 'producerresume');
	await pub.producers.video.resume();
	await resumed;

	// Closing the original producer closes the pipe consumer, the pipe producer, and B's consumer.
	const closed = once(view.consumer, 'producerclose');
	pub.producers.video.close();
	await closed;
	assert.equal(pipeConsumer.closed, true);
	assert.equal(pipeProducer.closed, true);
	assert.equal(audio.pipeProducer.closed, false);

	// Closing router B closes its side of the pipe; A's pipe transport follows.
	const pipeTransportsA = () => [...routerA.transportsForTesting.values()].filter((t) => t.type === 'pipe');
	assert.equal(pipeTransportsA().length, 1);
	routerB.close();
	assert.equal(audio.pipeProducer.closed, true);
	assert.equal(pipeTransportsA().length, 0);
	assert.equal(audio.pipeConsumer.closed, true);
	pub.transport.close();
	await pub.page.close();
	await view.page.close();
});

test('pipeToRouter() between two routers of the same worker (native publisher and viewer)', async () => {
	const binding = require('../crates/tools-node');
	const { UDP } = media;
	const r1 = await workers[0].createRouter({ mediaCodecs: codecs.opusVp8 });
	const r2 = await workers[0].createRouter({ mediaCodecs: codecs.opusVp8 });
	const dtlsParameters = JSON.parse(binding.nativeViewerDtlsParameters());
	const send = await r1.createWebRtcTransport(UDP);
	await send.connect({ dtlsParameters });
	const producer = await send.produce({
		kind: 'video',
		rtpParameters: { mid: '0', codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000 }], encodings: [{ ssrc: 31313131 }] },
	});
	const publishing = binding.nativePublish(JSON.stringify({
		iceParameters: send.iceParameters, iceCandidates: send.iceCandidates, dtlsParameters: send.dtlsParameters,
		videoSsrc: 31313131, audioSsrc: 0, videoKbps: 500, durationMs: 3000,
	}));
	const { pipeProducer } = await r1.pipeToRouter({ producerId: producer.id, router: r2 });
	const recv = await r2.createWebRtcTransport(UDP);
	const consumer = await recv.consume({ producerId: pipeProducer.id, rtpCapabilities: r2.rtpCapabilities });
	await recv.connect({ dtlsParameters });
	const result = JSON.parse(await binding.nativeViewerWatch(JSON.stringify({
		iceParameters: recv.iceParameters, iceCandidates: recv.iceCandidates, dtlsParameters: recv.dtlsParameters,
		videoSsrc: consumer.rtpParameters.encodings[0].ssrc, mimeType: 'video/VP8', timeoutMs: 10000,
	})));
	assert.ok(result.firstKeyFrameMs > 0);
	const published = JSON.parse(await publishing);
	assert.ok(published.videoPackets > 0);
	// Closing the source router closes its pipe, the pipe producer, and (by the worker's
	// producerclose) the consumer of it.
	const gone = once(consumer, 'producerclose');
	r1.close();
	assert.equal(pipeProducer.closed, true);
	await gone;
	assert.equal(consumer.closed, true);
	r2.close();
});
