'use strict';

// Simulcast with Chromium + mediasoup-client: a 1280×720 camera in three encodings
// (scaleResolutionDownBy 4/2/1); viewers decode the layer their preferences and budgets give,
// and a flowing viewer changes size when its preferred layer changes.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const kit = require('./lib/browser');
const media = require('./lib/media');

const env = kit.useBrowserRouter({ rtcMinPort: 47000, rtcMaxPort: 47999 });
const page = () => ({ browser: env.browser, url: env.pages.url, router: env.router });

const ENCODINGS = [
	{ rid: 'r0', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
	{ rid: 'r1', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
	{ rid: 'r2', scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
];

/** Waits until the decoded width is `width` (frames keep being decoded). */
async function decodes(viewer, width, what) {
	await kit.waitFor(async () => {
		const r = await viewer.received('video');
		return r.frameWidth === width && r.framesDecoded > 0;
	}, 45000, what);
}

test('three simulcast layers: preferred layers, a budget, and a switch on a flowing stream', async () => {
	const pub = await media.publish({
		...page(),
		kinds: ['video'],
		clientOptions: { video: { capture: { width: 1280, height: 720 }, encodings: ENCODINGS } },
	});
	const producer = pub.producers.video;
	assert.equal(producer.type, 'simulcast');
	assert.deepStrictEqual(producer.rtpParameters.encodings.map((e) => e.rid), ['r0', 'r1', 'r2']);
	// Chromium starts low and adds layers as its estimate grows: wait for all three.
	await kit.waitFor(async () => {
		const stats = await producer.getStats();
		return stats.length === 3 && stats.every((s) => s.bitrate > 0);
	}, 45000, 'three active layers');

	const low = await media.view({ ...page(), producers: { video: producer } });
	await low.consumers.video.setPreferredLayers({ spatialLayer: 0 });
	// Its estimate stays above every layer (a busy machine delays loopback packets, which the
	// estimation may read as congestion): its layers follow its preferences only.
	await low.transport.setMinOutgoingBitrate(3_000_000);
	const high = await media.view({ ...page(), producers: { video: producer } });
	const bwe = [];
	await high.transport.enableTraceEvent(['bwe', 'probation']);
	high.transport.on('trace', (t) => bwe.push(t));
	const capped = await media.view({ ...page(), producers: { video: producer } });
	await capped.transport.setMaxOutgoingBitrate(250_000);

	assert.equal(low.consumers.video.type, 'simulcast');
	assert.deepStrictEqual(low.consumers.video.preferredLayers, { spatialLayer: 0, temporalLayer: 2 });
	assert.deepStrictEqual(high.consumers.video.preferredLayers, { spatialLayer: 2, temporalLayer: 2 });

	await decodes(low, 320, 'layer 0 (320 wide) at the viewer preferring it');
	await decodes(high, 1280, 'layer 2 (1280 wide) at the viewer preferring it');
	// Its estimate (from Chromium's transport-cc feedback, found by probing) rose above the
	// initial 600 kbit/s so the top layer fits.
	await kit.waitFor(async () => (await high.transport.getStats())[0].availableOutgoingBitrate > 600_000, 20000, 'availableOutgoingBitrate above the initial');
	await kit.waitFor(() => bwe.some((t) => t.type === 'bwe' && t.info.availableBitrate > 600_000), 20000, 'a bwe trace above the initial');
	const trace = bwe.find((t) => t.type === 'bwe');
	assert.equal(trace.direction, 'out');
	assert.equal(trace.info.bweType, 'transport-cc');
	for (const key of ['desiredBitrate', 'effectiveDesiredBitrate', 'minBitrate', 'maxBitrate', 'startBitrate', 'maxPaddingBitrate', 'availableBitrate']) {
		assert.equal(typeof trace.info[key], 'number', key);
	}
	await kit.waitFor(async () => {
		const r = await capped.received('video');
		return r.framesDecoded > 0 && r.frameWidth > 0 && r.frameWidth < 1280;
	}, 45000, 'a lower layer at the viewer with 250 kbit/s');
	// From now on the top viewer's layers follow its preference only (see `low`).
	await high.transport.setMinOutgoingBitrate(3_000_000);
	await kit.waitFor(() => high.consumers.video.currentLayers?.spatialLayer === 2, 20000, 'the top viewer on layer 2');
	// Its stats: what it sends, then the one producer stream it forwards (as mediasoup).
	const stats = await low.consumers.video.getStats();
	assert.deepStrictEqual(stats.map((s) => s.type), ['outbound-rtp', 'inbound-rtp']);
	assert.equal(stats[1].rid, 'r0');
	assert.equal(low.consumers.video.currentLayers?.spatialLayer, 0);

	// Switching a flowing stream: up, then down, each time the decoded size follows.
	const changes = [];
	low.consumers.video.on('layerschange', (l) => changes.push(l?.spatialLayer));
	await low.consumers.video.setPreferredLayers({ spatialLayer: 2 });
	await decodes(low, 1280, 'switched up to 1280 wide');
	await low.consumers.video.setPreferredLayers({ spatialLayer: 1 });
	await decodes(low, 640, 'switched down to 640 wide');
	// (Temporal changes are reported too: keep one entry per spatial layer run.)
	const spatialRuns = changes.filter((s, i) => s !== undefined && s !== changes[i - 1]);
	assert.deepStrictEqual(spatialRuns.slice(-2), [2, 1]);
	const dump = await low.consumers.video.dump();
	assert.equal(dump.preferredSpatialLayer, 1);
	assert.equal(dump.currentSpatialLayer, 1);

	// Priorities are kept (and given to the allocation).
	await capped.consumers.video.setPriority(3);
	assert.equal(capped.consumers.video.priority, 3);

	for (const v of [low, high, capped]) await v.page.context().close();
	await pub.page.context().close();
});
