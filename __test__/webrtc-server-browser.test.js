'use strict';

// Chromium + mediasoup-client through WebRtcServers: 20 viewers on one UDP port, one viewer
// over the server's TCP port, and a second worker's server fed by pipeToRouter().
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const ferrosoup = require('..');
const kit = require('./lib/browser');
const codecs = require('./lib/codecs');
const media = require('./lib/media');

let workers;
let servers;
let pages;
let browser;

before(async () => {
	workers = await Promise.all([0, 1].map(() => ferrosoup.createWorker()));
	servers = await Promise.all(workers.map((w) => w.createWebRtcServer({
		listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }, { protocol: 'tcp', ip: '127.0.0.1' }],
	})));
	pages = await kit.startPageServer();
	browser = await kit.launchBrowser();
});

after(async () => {
	await browser?.close();
	await pages?.close();
	for (const w of workers ?? []) w.close();
});

test('20 viewers on one UDP port, one over TCP, and viewers of a second worker\'s server all decode', async () => {
	const [routerA, routerB] = await Promise.all(workers.map((w) => w.createRouter({ mediaCodecs: codecs.opusVp8 })));
	const [serverA, serverB] = servers;
	const udpOnly = (server) => ({ webRtcServer: server, enableTcp: false });
	const pub = await media.publish({
		browser, url: pages.url, router: routerA, kinds: ['video'],
		transportOptions: udpOnly(serverA),
		produceOptions: { keyFrameCache: { maxDurationMs: 30000 } },
	});
	const producer = pub.producers.video;
	const many = await media.viewMany({ browser, url: pages.url, router: routerA, producer, count: 20, transportOptions: () => udpOnly(serverA) });
	// Over TCP: the transport offers only the server's TCP candidate.
	const overTcp = await media.view({
		browser, url: pages.url, router: routerA, producers: { video: producer },
		transportOptions: { webRtcServer: serverA, enableUdp: false },
	});
	// The second worker: its own server, its router fed through a pipe.
	await routerA.pipeToRouter({ producerId: producer.id, router: routerB });
	const onB = await media.viewMany({ browser, url: pages.url, router: routerB, producer, count: 2, transportOptions: () => udpOnly(serverB) });

	const [dumpA, dumpB] = await Promise.all(servers.map((s) => s.dump()));
	for (const v of many.viewers) assert.deepStrictEqual(v.transport.iceCandidates.map((c) => c.port), [dumpA.udpSockets[0].port]);
	assert.deepStrictEqual(overTcp.transport.iceCandidates.map((c) => [c.protocol, c.port]), [['tcp', dumpA.tcpServers[0].port]]);
	for (const v of onB.viewers) assert.deepStrictEqual(v.transport.iceCandidates.map((c) => c.port), [dumpB.udpSockets[0].port]);
	assert.equal(dumpA.webRtcTransportIds.length, 1 + 20 + 1);

	const everyone = [...many.viewers, { received: () => overTcp.received('video') }, ...onB.viewers];
	await kit.waitFor(async () => {
		const got = await Promise.all(everyone.map((v) => v.received()));
		return got.every((r) => r.framesDecoded >= 5);
	}, 60000, 'every viewer decoding');
	assert.equal(overTcp.transport.iceSelectedTuple.protocol, 'tcp');
	assert.equal(many.viewers[0].transport.iceSelectedTuple.protocol, 'udp');
	assert.equal(many.viewers[0].transport.iceSelectedTuple.localPort, dumpA.udpSockets[0].port);

	// Closing server B ends its transports (listenserverclose) and leaves A's viewers playing.
	const closed = onB.viewers.map((v) => new Promise((r) => v.transport.once('listenserverclose', r)));
	serverB.close();
	await Promise.all(closed);
	const before = (await many.viewers[3].received()).framesDecoded;
	await kit.waitFor(async () => (await many.viewers[3].received()).framesDecoded >= before + 10, 20000, 'A still decoding');

	for (const p of [pub.page, many.page, overTcp.page, onB.page]) await p.close();
	routerA.close();
	routerB.close();
});
