'use strict';

// Every video codec this Chromium sends, end to end through ferrosoup: VP9 with spatial SVC
// (K-SVC L3T3_KEY: a viewer decodes the spatial layer it prefers, and changes size on a flowing
// stream) and temporal SVC (L1T3), AV1 (L1T3), and H264 in simulcast (skipped, saying so, on a
// Chromium built without an H264 encoder; Debian 12's chromium 156 has one).
const { test } = require('node:test');
const assert = require('node:assert/strict');
const ferrosoup = require('..');
const kit = require('./lib/browser');
const media = require('./lib/media');

const OPUS = { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 };
const VIDEO = {
	VP9: { kind: 'video', mimeType: 'video/VP9', clockRate: 90000, parameters: { 'profile-id': 0, 'x-google-start-bitrate': 1000 } },
	AV1: { kind: 'video', mimeType: 'video/AV1', clockRate: 90000, parameters: { 'x-google-start-bitrate': 1000 } },
	H264: { kind: 'video', mimeType: 'video/H264', clockRate: 90000,
		parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1, 'x-google-start-bitrate': 1000 } },
};

const env = kit.useBrowserRouter({ rtcMinPort: 49000, rtcMaxPort: 49999 });

/** A router whose only video codec is `name`. */
async function routerFor(name) {
	return env.worker.createRouter({ mediaCodecs: [OPUS, VIDEO[name]] });
}

function on(router) {
	return { browser: env.browser, url: env.pages.url, router };
}

async function decodes(viewer, predicate, what) {
	await kit.waitFor(async () => {
		const r = await viewer.received('video');
		return r.framesDecoded > 0 && predicate(r);
	}, 45000, what);
}

/** Whether this Chromium can encode `mime` (asked in a page). */
async function canSend(mime) {
	const context = await env.browser.newContext();
	const page = await context.newPage();
	await page.goto(env.pages.url);
	const codecs = await page.evaluate(() => RTCRtpSender.getCapabilities('video').codecs.map((c) => c.mimeType.toLowerCase()));
	await context.close();
	return codecs.includes(mime.toLowerCase());
}

test('VP9 K-SVC (L3T3_KEY): the preferred spatial layer is decoded, and changes on a flowing stream', async () => {
	const router = await routerFor('VP9');
	const pub = await media.publish({
		...on(router),
		kinds: ['video'],
		clientOptions: { video: { capture: { width: 1280, height: 720 }, encodings: [{ scalabilityMode: 'L3T3_KEY' }] } },
	});
	const producer = pub.producers.video;
	assert.equal(producer.type, 'svc');
	assert.equal(producer.rtpParameters.codecs[0].mimeType, 'video/VP9');
	const full = await media.view({ ...on(router), producers: { video: producer } });
	const small = await media.view({ ...on(router), producers: { video: producer } });
	// Their layers follow their preferences only (the estimation of a busy machine's loopback
	// must not hold them back here; budgets are tested in virtual time).
	for (const v of [full, small]) await v.transport.setMinOutgoingBitrate(3_000_000);
	assert.equal(full.consumers.video.type, 'svc');
	assert.deepStrictEqual(full.consumers.video.preferredLayers, { spatialLayer: 2, temporalLayer: 2 });
	await small.consumers.video.setPreferredLayers({ spatialLayer: 0, temporalLayer: 2 });
	// Chromium adds spatial layers as its estimate grows: the full viewer reaches 1280 wide.
	await decodes(full, (r) => r.frameWidth === 1280, 'VP9 spatial layer 2 (1280 wide)');
	await decodes(small, (r) => r.frameWidth === 320, 'VP9 spatial layer 0 (320 wide)');
	assert.equal(full.consumers.video.currentLayers?.spatialLayer, 2);
	assert.equal(small.consumers.video.currentLayers?.spatialLayer, 0);
	// Up (at a key picture the consumer asks for), then down (at once).
	await small.consumers.video.setPreferredLayers({ spatialLayer: 1 });
	await decodes(small, (r) => r.frameWidth === 640, 'VP9 up to spatial layer 1 (640 wide)');
	await full.consumers.video.setPreferredLayers({ spatialLayer: 0 });
	await decodes(full, (r) => r.frameWidth === 320, 'VP9 down to spatial layer 0 (320 wide)');
	const dump = await full.consumers.video.dump();
	assert.equal(dump.type, 'svc');
	assert.equal(dump.currentSpatialLayer, 0);
	for (const v of [full, small]) await v.page.context().close();
	await pub.page.context().close();
	router.close();
});

test('AV1 spatial SVC (L3T3_KEY, dependency descriptor): the preferred spatial layer is decoded', async () => {
	const router = await routerFor('AV1');
	const pub = await media.publish({
		...on(router),
		kinds: ['video'],
		clientOptions: { video: { capture: { width: 640, height: 360 }, encodings: [{ scalabilityMode: 'L3T3_KEY' }] } },
	});
	const producer = pub.producers.video;
	assert.equal(producer.type, 'svc');
	const full = await media.view({ ...on(router), producers: { video: producer } });
	const small = await media.view({ ...on(router), producers: { video: producer } });
	for (const v of [full, small]) await v.transport.setMinOutgoingBitrate(3_000_000);
	// Viewers get the dependency descriptor (without it Chromium cannot assemble AV1 frames of
	// several spatial layers).
	assert.ok(full.consumers.video.rtpParameters.headerExtensions.some((e) => e.uri.includes('dependency-descriptor')));
	await small.consumers.video.setPreferredLayers({ spatialLayer: 0 });
	// (libaom leaves out layers below its minimum size: the widths are whatever it sends.)
	await decodes(full, (r) => r.frameWidth === 640, 'AV1 top spatial layer (640 wide)');
	await decodes(small, (r) => r.frameWidth > 0 && r.frameWidth < 640, 'AV1 lowest spatial layer (narrower)');
	assert.equal(small.consumers.video.currentLayers?.spatialLayer, 0);
	await small.consumers.video.setPreferredLayers({ spatialLayer: 2 });
	await decodes(small, (r) => r.frameWidth === 640, 'AV1 up to the top spatial layer (640 wide)');
	for (const v of [full, small]) await v.page.context().close();
	await pub.page.context().close();
	router.close();
});

test('VP9 L1T3 with the lowest temporal layer, and AV1 L1T3: decoded', async () => {
	for (const name of ['VP9', 'AV1']) {
		const router = await routerFor(name);
		const pub = await media.publish({
			...on(router),
			kinds: ['video'],
			clientOptions: { video: { encodings: [{ scalabilityMode: 'L1T3' }] } },
		});
		const producer = pub.producers.video;
		assert.equal(producer.rtpParameters.codecs[0].mimeType, `video/${name}`);
		assert.equal(producer.type, 'svc');
		const viewer = await media.view({ ...on(router), producers: { video: producer } });
		await decodes(viewer, (r) => r.framesDecoded >= 20, `${name} frames`);
		if (name === 'VP9') {
			// Temporal layer 0 only: still decoding (a third of the pictures, no gap the decoder sees).
			await viewer.consumers.video.setPreferredLayers({ spatialLayer: 0, temporalLayer: 0 });
			const before = (await viewer.received('video')).framesDecoded;
			await decodes(viewer, (r) => r.framesDecoded >= before + 10, 'VP9 temporal layer 0 frames');
			assert.deepStrictEqual(viewer.consumers.video.preferredLayers, { spatialLayer: 0, temporalLayer: 0 });
		}
		await viewer.page.context().close();
		await pub.page.context().close();
		router.close();
	}
});

test('H264 in simulcast, where this Chromium encodes H264', async (t) => {
	if (!(await canSend('video/H264'))) {
		t.skip('this Chromium has no H264 encoder');
		return;
	}
	const router = await routerFor('H264');
	const pub = await media.publish({
		...on(router),
		kinds: ['video'],
		clientOptions: {
			video: {
				capture: { width: 1280, height: 720 },
				encodings: [{ scaleResolutionDownBy: 4 }, { scaleResolutionDownBy: 2 }, { scaleResolutionDownBy: 1 }],
			},
		},
	});
	assert.equal(pub.producers.video.type, 'simulcast');
	const viewer = await media.view({ ...on(router), producers: { video: pub.producers.video } });
	await viewer.consumers.video.setPreferredLayers({ spatialLayer: 0 });
	await decodes(viewer, (r) => r.frameWidth === 320, 'H264 layer 0');
	await viewer.consumers.video.setPreferredLayers({ spatialLayer: 2 });
	await decodes(viewer, (r) => r.frameWidth === 1280, 'H264 switched to layer 2');
	await viewer.page.context().close();
	await pub.page.context().close();
	router.close();
});

test('the codecs this Chromium offers are all routed by ferrosoup', async () => {
	const names = (await Promise.all(Object.keys(VIDEO).map(async (n) => ((await canSend(`video/${n}`)) ? n : null)))).filter(Boolean);
	// VP8, VP9 and AV1 at least; each has a router capability.
	for (const n of ['VP9', 'AV1']) assert.ok(names.includes(n), `${n} missing from this Chromium`);
	const caps = ferrosoup.getSupportedRtpCapabilities().codecs.map((c) => c.mimeType.toLowerCase());
	for (const n of names) assert.ok(caps.includes(`video/${n.toLowerCase()}`), n);
});
