'use strict';

// Chromium publishes its fake camera and microphone through one ferrosoup transport; a second
// page consumes both through another. Frames must decode and audio must arrive.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { once } = require('node:events');
const ferrosoup = require('..');
const kit = require('./lib/browser');
const codecs = require('./lib/codecs');

let worker;
let router;
let pages;
let browser;

before(async () => {
	worker = await ferrosoup.createWorker({ rtcMinPort: 44000, rtcMaxPort: 44999 });
	router = await worker.createRouter({ mediaCodecs: codecs.opusVp8 });
	pages = await kit.startPageServer();
	browser = await kit.launchBrowser();
});

after(async () => {
	await browser?.close();
	await pages?.close();
	worker?.close();
});

const media = require('./lib/media');
const publisher = () => media.publish({ browser, url: pages.url, router });
const viewer = (producers) => media.view({ browser, url: pages.url, router, producers });

test('camera and microphone from one page decode in another; pause/resume; producerclose', async () => {
	const pub = await publisher();
	assert.equal(pub.producers.video.type, 'simple');
	assert.equal(pub.producers.video.kind, 'video');
	const view = await viewer(pub.producers);
	for (const kind of ['video', 'audio']) {
		assert.equal(router.canConsume({ producerId: pub.producers[kind].id, rtpCapabilities: view.rtpCapabilities }), true);
	}
	await kit.waitFor(async () => (await view.received('video')).framesDecoded >= 10, 20000, 'decoded video frames');
	await kit.waitFor(async () => (await view.received('audio')).totalSamplesReceived > 4800, 20000, 'received audio');

	// Server side numbers agree.
	const [out, inb] = await view.consumers.video.getStats();
	assert.equal(out.type, 'outbound-rtp');
	assert.ok(out.packetCount > 0);
	assert.equal(inb.type, 'inbound-rtp');
	assert.ok(inb.packetCount >= out.packetCount);
	const [pstats] = await pub.producers.video.getStats();
	assert.ok(pstats.byteCount > 0);
	assert.ok(pstats.bitrate > 0);

	// Consumer pause: the worker stops sending at once; the page's decoder settles (what was in
	// flight, however late a busy machine decodes it) and then decodes nothing more.
	await view.consumers.video.pause();
	const [{ packetCount: sentAtPause }] = await view.consumers.video.getStats();
	let settled = -1;
	await kit.waitFor(async () => {
		const now = (await view.received('video')).framesDecoded;
		const same = now === settled;
		settled = now;
		return same;
	}, 15000, 'the decoder settling after pause', 500);
	await new Promise((r) => setTimeout(r, 1500)); // a window in which nothing may arrive
	const stillPaused = (await view.received('video')).framesDecoded;
	assert.ok(stillPaused - settled <= 2, `frames kept flowing while paused: ${settled} → ${stillPaused}`);
	const [{ packetCount: sentLater }] = await view.consumers.video.getStats();
	assert.equal(sentLater, sentAtPause, 'the worker sent video while paused');
	await view.consumers.video.resume();
	await kit.waitFor(async () => (await view.received('video')).framesDecoded >= stillPaused + 10, 15000, 'frames after resume');

	// Producer pause reaches the consumer as producerpause / producerresume.
	const pausedEvent = once(view.consumers.audio, 'producerpause');
	await pub.producers.audio.pause();
	await pausedEvent;
	assert.equal(view.consumers.audio.producerPaused, true);
	const resumedEvent = once(view.consumers.audio, 'producerresume');
	await pub.producers.audio.resume();
	await resumedEvent;

	// Closing the producer closes its consumers.
	const closed = once(view.consumers.video, 'producerclose');
	pub.producers.video.close();
	await closed;
	assert.equal(view.consumers.video.closed, true);

	pub.transport.close();
	view.transport.close();
	await pub.page.close();
	await view.page.close();
});

test('a viewer joining a running broadcast decodes its first frame without a new key frame request', async () => {
	// A cache long enough that its refresh (requested before it expires while viewers come)
	// cannot fall inside this test, however slowly the pages start.
	const pub = await media.publish({ browser, url: pages.url, router, produceOptions: { keyFrameCache: { maxDurationMs: 30000 } } });
	const pliCount = async () => (await pub.producers.video.getStats()).reduce((n, s) => n + s.pliCount + s.firCount, 0);
	// The first viewer may need a fresh key frame from the publisher.
	const first = await viewer(pub.producers);
	await kit.waitFor(async () => (await first.received('video')).framesDecoded >= 1, 20000, 'first viewer decodes');
	const before = await pliCount();
	// The next one starts from the producer's key frame cache: decoded, and no request upstream.
	const second = await viewer(pub.producers);
	await kit.waitFor(async () => (await second.received('video')).framesDecoded >= 5, 20000, 'second viewer decodes');
	assert.equal(await pliCount(), before, 'the publisher was asked for a key frame');
	const [out] = await second.consumers.video.getStats();
	assert.ok(out.packetCount > 0);
	// Frames keep decoding after the replay (live continues without a gap).
	const n = (await second.received('video')).framesDecoded;
	await kit.waitFor(async () => (await second.received('video')).framesDecoded >= n + 10, 15000, 'live frames after the replay');
	for (const v of [first, second]) {
		v.transport.close();
		await v.page.close();
	}
	pub.transport.close();
	await pub.page.close();
});
