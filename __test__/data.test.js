'use strict';

// DataProducer and DataConsumer: mediasoup 3.27's API (validation, events, errors, cascades),
// subchannels, SCTP over UDP between PipeTransports (in this process and to another one),
// sendbuffer limits and malformed SCTP.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { once } = require('node:events');
const { fork } = require('node:child_process');
const dgram = require('node:dgram');
const path = require('node:path');
const ferrosoup = require('..');
const codecs = require('./lib/codecs');

const { NotFoundError, WorkerClosedError } = ferrosoup.errors;
const LOCAL = { protocol: 'udp', ip: '127.0.0.1' };
let worker;
let router;

before(async () => {
	worker = await ferrosoup.createWorker({ rtcMinPort: 43000, rtcMaxPort: 43999 });
	router = await worker.createRouter({ mediaCodecs: codecs.opusVp8 });
});
after(() => worker.close());

/** Waits (bounded) for `cond()`. */
async function until(cond, what, ms = 10000) {
	const end = Date.now() + ms;
	while (!(await cond())) {
		if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
		await new Promise((r) => setTimeout(r, 10));
	}
}

test('produceData()/consumeData(): shapes, mediasoup\'s argument errors, stream ids', async () => {
	const direct = await router.createDirectTransport();
	const dp = await direct.produceData({ label: 'l', protocol: 'p', appData: { a: 1 } });
	assert.equal(dp.type, 'direct');
	assert.equal(dp.sctpStreamParameters, undefined);
	assert.deepStrictEqual(await dp.dump(), { id: dp.id, paused: false, type: 'direct', label: 'l', protocol: 'p' });
	await assert.rejects(direct.produceData({ id: dp.id }), { name: 'TypeError', message: `a DataProducer with same id "${dp.id}" already exists` });
	await assert.rejects(direct.produceData({ appData: 'x' }), { name: 'TypeError', message: 'if given, appData must be an object' });
	await assert.rejects(direct.consumeData({}), { name: 'TypeError', message: 'missing dataProducerId' });
	await assert.rejects(direct.consumeData({ dataProducerId: 'nope' }), { name: 'NotFoundError', message: 'DataProducer with id "nope" not found' });

	// SCTP transports: stream parameters checked as mediasoup does.
	const sctp = await router.createWebRtcTransport({ listenInfos: [LOCAL], enableSctp: true, maxSendMessageSize: 1000 });
	assert.equal(sctp.sctpState, 'new');
	assert.equal(sctp.sctpParameters.maxSendMessageSize, 1000);
	assert.equal(sctp.sctpParameters.isDataChannel, true);
	await assert.rejects(sctp.produceData({}), { name: 'TypeError', message: 'params is not an object' });
	await assert.rejects(sctp.produceData({ sctpStreamParameters: {} }), { name: 'TypeError', message: 'missing params.streamId' });
	await assert.rejects(sctp.produceData({ sctpStreamParameters: { streamId: 1, maxPacketLifeTime: 1, maxRetransmits: 1 } }), { message: 'cannot provide both maxPacketLifeTime and maxRetransmits' });
	await assert.rejects(sctp.produceData({ sctpStreamParameters: { streamId: 1, ordered: true, maxRetransmits: 1 } }), { message: 'cannot be ordered with maxPacketLifeTime or maxRetransmits' });
	await assert.rejects(sctp.produceData({ sctpStreamParameters: { streamId: 65535 } }), { message: 'streamId must not be greater than 65534' });
	const sdp = await sctp.produceData({ sctpStreamParameters: { streamId: 7, maxRetransmits: 2 } });
	assert.deepStrictEqual(sdp.sctpStreamParameters, { streamId: 7, ordered: false, maxRetransmits: 2 });
	await assert.rejects(sctp.produceData({ sctpStreamParameters: { streamId: 7 } }), { name: 'Error', message: 'streamId already exists in SCTP listener [streamId:7]' });
	// Data consumers get stream ids 0, 1, 2... and inherit the producer's reliability.
	const c0 = await sctp.consumeData({ dataProducerId: sdp.id });
	const c1 = await sctp.consumeData({ dataProducerId: dp.id, ordered: false, maxPacketLifeTime: 500 });
	assert.deepStrictEqual(c0.sctpStreamParameters, { streamId: 0, ordered: false, maxRetransmits: 2 });
	assert.deepStrictEqual(c1.sctpStreamParameters, { streamId: 1, ordered: false, maxPacketLifeTime: 500 });
	assert.equal(c1.type, 'sctp');
	assert.equal(c1.label, 'l');
	const dump = await sctp.dump();
	assert.deepStrictEqual(dump.dataProducerIds, [sdp.id]);
	assert.deepStrictEqual(dump.dataConsumerIds, [c0.id, c1.id]);
	assert.deepStrictEqual(dump.sctpListener, { streamIdTable: [{ key: 7, value: sdp.id }] });
	// Without SCTP: mediasoup's error.
	const plainRtc = await router.createWebRtcTransport({ listenInfos: [LOCAL] });
	await assert.rejects(plainRtc.produceData({ sctpStreamParameters: { streamId: 1 } }), { name: 'Error', message: 'SCTP not enabled and not a direct Transport' });
	const r = await router.dump();
	assert.deepStrictEqual(r.mapDataProducerIdDataConsumerIds.find((e) => e.key === dp.id).values, [c1.id]);
	assert.deepStrictEqual(r.mapDataConsumerIdDataProducerId.find((e) => e.key === c0.id).value, sdp.id);
	for (const t of [direct, sctp, plainRtc]) t.close();
});

test('messages, subchannels, pause/resume, stats and close cascades on DirectTransports', async () => {
	const input = await router.createDirectTransport({ maxReceiveMessageSize: 100 });
	const output = await router.createDirectTransport();
	const dp = await input.produceData();
	const all = await output.consumeData({ dataProducerId: dp.id });
	const news = await output.consumeData({ dataProducerId: dp.id, subchannels: [1] });
	const got = { all: [], news: [] };
	all.on('message', (d, ppid) => got.all.push([d.toString(), ppid]));
	news.on('message', (d, ppid) => got.news.push([d.toString(), ppid]));
	dp.send('plain');
	dp.send('for 1 and 2', undefined, [1, 2]);
	dp.send('needs 1', 51, [], 1);
	dp.send(Buffer.from('bin'));
	dp.send('');
	dp.send('x'.repeat(101)); // over maxReceiveMessageSize: dropped
	assert.throws(() => dp.send(42), { name: 'TypeError', message: 'message must be a string or a Buffer' });
	await until(() => got.all.length === 3 && got.news.length === 5, 'messages');
	// Messages without subchannels reach everyone; with some, only the consumers that follow one.
	assert.deepStrictEqual(got.all, [['plain', 51], ['bin', 53], [' ', 56]]);
	assert.deepStrictEqual(got.news, [['plain', 51], ['for 1 and 2', 51], ['needs 1', 51], ['bin', 53], [' ', 56]]);
	await news.addSubchannel(3);
	assert.deepStrictEqual(news.subchannels, [1, 3]);
	await news.removeSubchannel(1);
	await news.setSubchannels([9, 4]);
	assert.deepStrictEqual(news.subchannels, [4, 9]);
	// A paused producer drops (and counts) messages; its consumers hear about it.
	const events = [];
	all.on('dataproducerpause', () => events.push('dataproducerpause'));
	all.on('dataproducerresume', () => events.push('dataproducerresume'));
	all.observer.on('pause', () => events.push('observer:pause'));
	await dp.pause();
	assert.equal(dp.paused, true);
	dp.send('lost');
	await until(() => events.length >= 2, 'pause events');
	await dp.resume();
	dp.send('again');
	await until(() => got.all.length === 4, 'message after resume');
	assert.deepStrictEqual(got.all.at(-1), ['again', 51]);
	assert.deepStrictEqual(events.slice(0, 2), ['dataproducerpause', 'observer:pause']);
	assert.ok(events.includes('dataproducerresume'));
	const [ps] = await dp.getStats();
	assert.equal(ps.type, 'data-producer');
	assert.equal(ps.messagesReceived, 7);
	const [cs] = await all.getStats();
	assert.equal(cs.messagesSent, 4);
	// Direct consumers have no SCTP buffer.
	await assert.rejects(all.getBufferedAmount(), { name: 'TypeError', message: 'invalid DataConsumer type' });
	await assert.rejects(all.send('x'), { name: 'TypeError', message: 'invalid DataConsumer type' });
	// Closing the producer closes its consumers; closing the transport closes what is on it.
	const gone = once(all, 'dataproducerclose');
	dp.close();
	await gone;
	assert.equal(all.closed, true);
	const dp2 = await input.produceData();
	const c2 = await output.consumeData({ dataProducerId: dp2.id });
	const order = [];
	dp2.on('transportclose', () => order.push('dp2:transportclose'));
	c2.on('dataproducerclose', () => order.push('c2:dataproducerclose'));
	input.close();
	await until(() => order.length === 2, 'cascade');
	assert.deepStrictEqual(order, ['dp2:transportclose', 'c2:dataproducerclose']);
	await assert.rejects(dp2.getStats(), NotFoundError);
	output.close();
	const w = await ferrosoup.createWorker();
	const t = await (await w.createRouter()).createDirectTransport();
	const last = await t.produceData();
	w.close();
	assert.throws(() => last.send('late'), WorkerClosedError);
});

test('SCTP over UDP between two PipeTransports: association, both ways, dataConsumer.send(), buffered amounts, garbage counted', async () => {
	const r2 = await worker.createRouter();
	const sctp = { enableSctp: true, sctpSendBufferSize: 300_000 };
	const a = await router.createPipeTransport({ listenInfo: LOCAL, ...sctp });
	const b = await r2.createPipeTransport({ listenInfo: LOCAL, ...sctp });
	assert.equal(a.sctpParameters.isDataChannel, false);
	const states = [];
	a.on('sctpstatechange', (s) => states.push(s));
	await a.connect({ ip: '127.0.0.1', port: b.tuple.localPort });
	await b.connect({ ip: '127.0.0.1', port: a.tuple.localPort });
	// A DirectTransport producer on one side, piped by hand to the other.
	const input = await router.createDirectTransport();
	const dp = await input.produceData({ label: 'over-udp' });
	const pipeConsumer = await a.consumeData({ dataProducerId: dp.id });
	const pipeProducer = await b.produceData({ id: dp.id, sctpStreamParameters: pipeConsumer.sctpStreamParameters, label: 'over-udp' });
	const output = await r2.createDirectTransport();
	const sink = await output.consumeData({ dataProducerId: pipeProducer.id });
	const got = [];
	sink.on('message', (d) => got.push(d.toString()));
	await until(() => a.sctpState === 'connected' && b.sctpState === 'connected', 'SCTP connected');
	assert.deepStrictEqual(states, ['connecting', 'connected']);
	for (let i = 0; i < 50; i++) dp.send(`m${i}`);
	await until(() => got.length === 50, '50 messages over SCTP');
	assert.deepStrictEqual(got, Array.from({ length: 50 }, (_, i) => `m${i}`));
	// dataConsumer.send() on an SCTP consumer resolves with the buffered amount, and the
	// message arrives.
	const direct = await Promise.all([0, 1].map(() => router.createDirectTransport()));
	const dp2 = await direct[0].produceData();
	const toB = await a.consumeData({ dataProducerId: dp2.id });
	const fromA = await b.produceData({ id: dp2.id, sctpStreamParameters: toB.sctpStreamParameters });
	const sink2 = await (await r2.createDirectTransport()).consumeData({ dataProducerId: fromA.id });
	const received = [];
	sink2.on('message', (d, ppid) => received.push([d.length, ppid]));
	assert.equal(typeof (await toB.send(Buffer.alloc(60_000, 7))), 'number');
	assert.equal(typeof (await toB.send('text')), 'number');
	await until(() => received.length === 2, 'dataConsumer.send() messages arrive');
	assert.deepStrictEqual(received, [[60_000, 53], [4, 51]]);
	await until(async () => (await toB.getBufferedAmount()) === 0, 'the buffer drained');
	await assert.rejects(toB.send(Buffer.alloc(262_145)), { name: 'TypeError', message: 'given message exceeds maxMessageSize value [maxMessageSize:262144, len:262145]' });
	// A transport whose association is not up yet queues messages, up to the send buffer;
	// beyond it, sends are refused (sctpsendbufferfull).
	const lonely = await router.createPipeTransport({ listenInfo: LOCAL, ...sctp });
	const queued = await lonely.consumeData({ dataProducerId: dp2.id });
	let full = 0;
	queued.on('sctpsendbufferfull', () => full++);
	const results = await Promise.allSettled(Array.from({ length: 8 }, () => queued.send(Buffer.alloc(60_000, 1))));
	assert.deepStrictEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'rejected', 'rejected']);
	assert.deepStrictEqual(results.slice(0, 5).map((r) => r.value), [60_000, 120_000, 180_000, 240_000, 300_000]);
	assert.ok(results.slice(5).every((r) => r.reason.message === 'sctpsendbufferfull'));
	await until(() => full === 3, 'three sctpsendbufferfull events');
	assert.equal(await queued.getBufferedAmount(), 300_000);
	lonely.close();
	// Garbage at the SCTP port is dropped and counted; the association lives on.
	const s = dgram.createSocket('udp4');
	await new Promise((r) => s.bind(0, '127.0.0.1', r));
	await new Promise((r) => s.send(Buffer.alloc(64, 0x13), a.tuple.localPort, '127.0.0.1', r));
	s.close();
	// (The worker reads it on its own thread: wait for it to be counted.)
	await until(async () => (await a.getStats())[0].drops.invalidTuple >= 1, 'a stranger\'s datagram dropped, not even looked at');
	const [stats] = await a.getStats();
	assert.equal(stats.sctpState, 'connected');
	for (const t of [a, b, input, output, ...direct]) t.close();
	r2.close();
});

test('SCTP over a PipeTransport to another process, both ways', async () => {
	const child = fork(path.join(__dirname, 'lib', 'pipe-peer.js'), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
	let next = 0;
	const pending = new Map();
	child.on('message', ({ id, result, error }) => {
		const p = pending.get(id);
		pending.delete(id);
		if (error) p?.reject(Object.assign(new Error(error.message), { name: error.name }));
		else p?.resolve(result);
	});
	const call = (cmd, args) => new Promise((resolve, reject) => {
		const id = ++next;
		pending.set(id, { resolve, reject });
		child.send({ id, cmd, args });
	});
	try {
		const peer = await call('setup', { enableSctp: true });
		assert.equal(peer.sctpParameters.port, 5000);
		const a = await router.createPipeTransport({ listenInfo: LOCAL, enableSctp: true });
		await a.connect({ ip: '127.0.0.1', port: peer.tuple.localPort });
		await call('connect', { ip: '127.0.0.1', port: a.tuple.localPort });
		const input = await router.createDirectTransport();
		const dp = await input.produceData({ label: 'cross' });
		const toPeer = await a.consumeData({ dataProducerId: dp.id });
		await call('produceData', { id: dp.id, sctpStreamParameters: toPeer.sctpStreamParameters, label: 'cross' });
		await until(() => a.sctpState === 'connected', 'SCTP with the other process');
		const sent = ['one', 'two', 'x'.repeat(50_000)];
		for (const m of sent) dp.send(m);
		await until(async () => (await call('dataStats')).messages.length === 3, 'the other process got them');
		const { messages, sctpState } = await call('dataStats');
		assert.equal(sctpState, 'connected');
		assert.deepStrictEqual(messages.map((m) => m.text), sent);
		// And back: a data producer there, consumed through its pipe, produced here.
		const back = await call('sendBack', { messages: [] });
		const here = await a.produceData({ id: back.id, sctpStreamParameters: back.sctpStreamParameters });
		const sink = await (await router.createDirectTransport()).consumeData({ dataProducerId: here.id });
		const got = [];
		sink.on('message', (d) => got.push(d.toString()));
		await call('sendNow', { messages: ['back 1', 'back 2'] });
		await until(() => got.length === 2, 'messages from the other process');
		assert.deepStrictEqual(got, ['back 1', 'back 2']);
		a.close();
		input.close();
	} finally {
		await call('close').catch(() => {});
	}
});
