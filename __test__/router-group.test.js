'use strict';

// createRouterGroup(): one room over two worker threads with a Router's API.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { once } = require('node:events');
const ferrosoup = require('..');
const binding = require('../crates/tools-node');
const kit = require('./lib/browser');
const codecs = require('./lib/codecs');

let workers;
let pages;
let browser;

before(async () => {
	workers = await Promise.all([1, 2].map(() => ferrosoup.createWorker({ rtcMinPort: 46000, rtcMaxPort: 46999 })));
	pages = await kit.startPageServer();
	browser = await kit.launchBrowser();
});

after(async () => {
	await browser?.close();
	await pages?.close();
	for (const w of workers ?? []) w.close();
});

const UDP = { listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }] };

test('transports spread over the workers; consumers anywhere receive a producer from anywhere', async () => {
	const group = await ferrosoup.createRouterGroup({ workers, mediaCodecs: codecs.opusVp8 });
	assert.equal(group.routers.length, 2);
	assert.deepStrictEqual(group.rtpCapabilities, group.routers[1].rtpCapabilities);
	await assert.rejects(ferrosoup.createRouterGroup({ workers: [] }), TypeError);

	// The publisher (Chromium) on one member.
	const sendTransport = await group.createWebRtcTransport(UDP);
	const producers = {};
	const page = await kit.openPage(browser, pages.url, async (method, data) => {
		if (method === 'connect') return sendTransport.connect({ dtlsParameters: data.dtlsParameters }).then(() => ({}));
		const p = await sendTransport.produce({ kind: data.kind, rtpParameters: data.rtpParameters });
		producers[data.kind] = p;
		return { id: p.id };
	});
	await page.evaluate((caps) => window.ferrosoupTest.loadDevice(caps), group.rtpCapabilities);
	const tid = await page.evaluate((p) => window.ferrosoupTest.createSendTransport(p), {
		id: sendTransport.id, iceParameters: sendTransport.iceParameters, iceCandidates: sendTransport.iceCandidates, dtlsParameters: sendTransport.dtlsParameters,
	});
	await page.evaluate((id) => window.ferrosoupTest.produce(id, 'video'), tid);
	assert.equal(group.canConsume({ producerId: producers.video.id, rtpCapabilities: group.rtpCapabilities }), true);

	// Four native viewers: two land on each member.
	const viewers = [];
	for (let i = 0; i < 4; i++) {
		const transport = await group.createWebRtcTransport(UDP);
		const consumer = await transport.consume({ producerId: producers.video.id, rtpCapabilities: group.rtpCapabilities });
		assert.equal(consumer.producerId, producers.video.id);
		viewers.push({ transport, consumer });
	}
	const perRouter = await Promise.all(group.routers.map(async (r) => (await r.dump()).transportIds.length));
	// 3 WebRTC transports + 1 pipe on one member, 2 WebRTC transports + 1 pipe on the other.
	assert.deepStrictEqual(perRouter.sort(), [3, 4]);
	const results = await Promise.all(viewers.map(async ({ transport, consumer }) => {
		const watching = binding.nativeViewerWatch(JSON.stringify({
			iceParameters: transport.iceParameters,
			iceCandidates: transport.iceCandidates,
			dtlsParameters: transport.dtlsParameters,
			videoSsrc: consumer.rtpParameters.encodings[0].ssrc,
			mimeType: consumer.rtpParameters.codecs[0].mimeType,
			timeoutMs: 15000,
		}));
		await transport.connect({ dtlsParameters: JSON.parse(binding.nativeViewerDtlsParameters()) });
		return JSON.parse(await watching);
	}));
	for (const r of results) assert.ok(r.firstKeyFrameMs > 0, JSON.stringify(r));

	// Closing the producer reaches every consumer, on both members.
	const closed = viewers.map((v) => once(v.consumer, 'producerclose'));
	producers.video.close();
	await Promise.all(closed);
	group.close();
	assert.equal(group.closed, true);
	assert.ok(group.routers.every((r) => r.closed));
	assert.equal(sendTransport.closed, true);
	await page.close();
});

test('data producers reach data consumers on another member (piped once per pair)', async () => {
	const group = await ferrosoup.createRouterGroup({ workers, mediaCodecs: codecs.opusVp8 });
	const a = await group.createDirectTransport();
	const b = await group.createDirectTransport();
	const c = await group.createDirectTransport();
	const routerOf = (t) => t.internal.routerId;
	assert.notStrictEqual(routerOf(a), routerOf(b), 'the group spreads transports over its members');
	const dataProducer = await a.produceData({ label: 'chat' });
	const first = await b.consumeData({ dataProducerId: dataProducer.id });
	const second = await b.consumeData({ dataProducerId: dataProducer.id });
	assert.strictEqual(first.label, 'chat');
	const got = [];
	const both = Promise.all([once(first, 'message'), once(second, 'message')]);
	first.on('message', (m) => got.push(m.toString()));
	dataProducer.send('hello across workers');
	await both;
	assert.deepStrictEqual(got, ['hello across workers']);
	const dumps = await Promise.all(group.routers.map((r) => r.dump()));
	const inMemoryPipes = dumps.reduce((n, d) => n + d.transportIds.length, 0) - 3;
	assert.strictEqual(inMemoryPipes, 2, 'one pipe pair between the two members');
	await assert.rejects(c.consumeData({ dataProducerId: 'nope' }), Error);
	const closed = once(first, 'dataproducerclose');
	dataProducer.close();
	await closed;
	group.close();
});
