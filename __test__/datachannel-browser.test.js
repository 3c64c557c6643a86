'use strict';

// DataChannels with Chromium + mediasoup-client: page A's DataChannel (a DataProducer) reaches
// page B (a DataConsumer) intact and in order, text and binary from 1 byte to 256 KiB; a
// DataProducer on a DirectTransport reaches a browser and a browser reaches a DirectTransport;
// a DataProducer piped to a router on another worker.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const ferrosoup = require('..');
const kit = require('./lib/browser');
const codecs = require('./lib/codecs');
const { transportParams } = require('./lib/media');

let workers;
let routers;
let pages;
let browser;

before(async () => {
	workers = await Promise.all([0, 1].map(() => ferrosoup.createWorker()));
	routers = await Promise.all(workers.map((w) => w.createRouter({ mediaCodecs: codecs.opusVp8 })));
	pages = await kit.startPageServer();
	browser = await kit.launchBrowser();
});

after(async () => {
	await browser?.close();
	await pages?.close();
	for (const w of workers ?? []) w.close();
});

const UDP = [{ protocol: 'udp', ip: '127.0.0.1' }];

/** A page with one transport of `router` ('send' or 'recv'), SCTP on. */
async function open(router, direction) {
	const transport = await router.createWebRtcTransport({ listenInfos: UDP, enableSctp: true });
	const dataProducers = [];
	const page = await kit.openPage(browser, pages.url, async (method, data) => {
		if (method === 'connect') {
			await transport.connect({ dtlsParameters: data.dtlsParameters });
			return {};
		}
		if (method === 'produceData') {
			const dp = await transport.produceData({ sctpStreamParameters: data.sctpStreamParameters, label: data.label, protocol: data.protocol });
			dataProducers.push(dp);
			return { id: dp.id };
		}
		throw new Error(`unexpected ${method}`);
	});
	await page.evaluate((caps) => window.ferrosoupTest.loadDevice(caps), router.rtpCapabilities);
	const create = direction === 'send' ? 'createSendTransport' : 'createRecvTransport';
	const tid = await page.evaluate(({ create, p }) => window.ferrosoupTest[create](p), { create, p: transportParams(transport) });
	return { page, transport, tid, dataProducers };
}

/** Consumes `dataProducerId` on page `p` (its recv transport): the browser side's id. */
async function consume(p, dataProducerId) {
	const dc = await p.transport.consumeData({ dataProducerId });
	const id = await p.page.evaluate(({ tid, params }) => window.ferrosoupTest.consumeData(tid, params), {
		tid: p.tid,
		params: { id: dc.id, dataProducerId, sctpStreamParameters: dc.sctpStreamParameters, label: dc.label, protocol: dc.protocol },
	});
	return { dc, id };
}

const received = (p, id) => p.page.evaluate((i) => window.ferrosoupTest.dataReceived(i), id);

test('text and binary messages from 1 byte to 256 KiB cross from page A to page B intact and in order', async () => {
	const [router] = routers;
	const a = await open(router, 'send');
	const b = await open(router, 'recv');
	const sctpStates = [];
	a.transport.on('sctpstatechange', (s) => sctpStates.push(s));
	const dpId = await a.page.evaluate((tid) => window.ferrosoupTest.produceData(tid, { label: 'chat', protocol: 'json' }), a.tid);
	const [dataProducer] = a.dataProducers;
	assert.equal(dataProducer.id, dpId);
	assert.equal(dataProducer.type, 'sctp');
	assert.equal(dataProducer.label, 'chat');
	assert.deepStrictEqual(dataProducer.sctpStreamParameters, { streamId: 0, ordered: true });
	await kit.waitFor(() => a.transport.sctpState === 'connected', 10000, 'SCTP connected');
	assert.deepStrictEqual(sctpStates.at(-1), 'connected');
	assert.deepStrictEqual(a.transport.sctpNegotiatedCapabilities, { negotiatedMaxOutboundStreams: 65535, negotiatedMaxInboundStreams: 65535 });
	const { dc, id } = await consume(b, dataProducer.id);
	assert.equal(dc.label, 'chat');
	assert.equal(dc.protocol, 'json');
	const messages = [];
	for (const size of [1, 10, 1000, 1200, 5000, 65536, 100_000, 262_144]) {
		messages.push({ kind: 'binary', size, seed: size % 251 }, { kind: 'string', size: Math.min(size, 200_000), seed: size % 13 });
	}
	const sent = await a.page.evaluate(({ dp, m }) => window.ferrosoupTest.sendData(dp, m), { dp: dpId, m: messages });
	await kit.waitFor(async () => (await received(b, id)).length >= sent.length, 30000, 'all messages at page B');
	assert.deepStrictEqual(await received(b, id), sent);
	const [ps] = await dataProducer.getStats();
	assert.equal(ps.messagesReceived, sent.length);
	const [cs] = await dc.getStats();
	assert.equal(cs.messagesSent, sent.length);
	assert.equal(cs.bytesSent, sent.reduce((n, m) => n + m.length, 0));
	// The producer closes: the consumer hears it.
	const closed = new Promise((r) => dc.once('dataproducerclose', r));
	dataProducer.close();
	await closed;
	await a.page.close();
	await b.page.close();
	a.transport.close();
	b.transport.close();
});

test('a DirectTransport DataProducer reaches a browser; a browser reaches a DirectTransport DataConsumer', async () => {
	const [router] = routers;
	const direct = await router.createDirectTransport();
	const bot = await direct.produceData({ label: 'bot' });
	const b = await open(router, 'recv');
	const { id } = await consume(b, bot.id);
	bot.send('hello from the server');
	bot.send(Buffer.from([1, 2, 3, 4]));
	await kit.waitFor(async () => (await received(b, id)).length === 2, 10000, 'the browser got the bot\'s messages');
	const got = await received(b, id);
	assert.deepStrictEqual(got.map((m) => [m.type, m.length]), [['string', 21], ['binary', 4]]);

	const a = await open(router, 'send');
	const dpId = await a.page.evaluate((tid) => window.ferrosoupTest.produceData(tid, { label: 'up' }), a.tid);
	const listener = await direct.consumeData({ dataProducerId: dpId });
	const messages = [];
	listener.on('message', (data, ppid) => messages.push([data.toString(), ppid]));
	await a.page.evaluate((dp) => window.ferrosoupTest.sendData(dp, [{ kind: 'string', size: 5, seed: 0 }]), dpId);
	await kit.waitFor(() => messages.length === 1, 10000, 'the DirectTransport got the browser\'s message');
	assert.deepStrictEqual(messages, [['abcde', 51]]);
	await a.page.close();
	await b.page.close();
	direct.close();
});

test('a DataProducer piped to a router on another worker reaches a browser there', async () => {
	const [r1, r2] = routers;
	const a = await open(r1, 'send');
	const dpId = await a.page.evaluate((tid) => window.ferrosoupTest.produceData(tid, { label: 'piped', ordered: false, maxRetransmits: 3 }), a.tid);
	const { pipeDataProducer, pipeDataConsumer } = await r1.pipeToRouter({ dataProducerId: dpId, router: r2 });
	assert.equal(pipeDataProducer.id, dpId);
	assert.equal(pipeDataConsumer.sctpStreamParameters.maxRetransmits, 3);
	const b = await open(r2, 'recv');
	const { id, dc } = await consume(b, dpId);
	assert.deepStrictEqual({ ...dc.sctpStreamParameters, streamId: 0 }, { streamId: 0, ordered: false, maxRetransmits: 3 });
	const sent = await a.page.evaluate((dp) => window.ferrosoupTest.sendData(dp, [1, 2, 3].map((n) => ({ kind: 'binary', size: n * 1000, seed: n }))), dpId);
	await kit.waitFor(async () => (await received(b, id)).length === 3, 10000, 'the other worker\'s browser got them');
	assert.deepStrictEqual(await received(b, id), sent);
	await a.page.close();
	await b.page.close();
});
