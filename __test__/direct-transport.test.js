'use strict';

// DirectTransport: RTP in by producer.send(), out as consumers' 'rtp' events; RTCP in by
// sendRtcp(), out as 'rtcp' events; mediasoup 3.27's errors, stats and cascades.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { once } = require('node:events');
const ferrosoup = require('..');
const codecs = require('./lib/codecs');
const rtp = require('./lib/rtp');

const { UnsupportedError, WorkerClosedError, NotFoundError } = ferrosoup.errors;
let worker;
let router;

before(async () => {
	worker = await ferrosoup.createWorker();
	router = await worker.createRouter({ mediaCodecs: codecs.opusVp8 });
});
after(() => worker.close());

/** Waits (bounded) until `cond()` holds. */
async function until(cond, what, ms = 5000) {
	const deadline = Date.now() + ms;
	while (!cond()) {
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await new Promise((r) => setTimeout(r, 5));
	}
}

/** Parses an RTCP compound into { pt, fmt, ssrc, mediaSsrc } per packet. */
function rtcpPackets(buf) {
	const out = [];
	for (let i = 0; i + 8 <= buf.length;) {
		const len = (buf.readUInt16BE(i + 2) + 1) * 4;
		out.push({ pt: buf[i + 1], fmt: buf[i] & 0x1f, ssrc: buf.readUInt32BE(i + 4), mediaSsrc: len >= 12 ? buf.readUInt32BE(i + 8) : undefined });
		i += len;
	}
	return out;
}

test('API: type, connect(), stats, dump, and what mediasoup refuses', async () => {
	const created = once(router.observer, 'newtransport');
	const t = await router.createDirectTransport({ maxSendMessageSize: 1000, appData: { bot: true } });
	assert.deepStrictEqual(await created, [t]);
	assert.equal(t.type, 'direct');
	assert.deepStrictEqual(t.appData, { bot: true });
	assert.equal(await t.connect(), undefined);
	for (const m of ['setMaxIncomingBitrate', 'setMaxOutgoingBitrate', 'setMinOutgoingBitrate']) {
		await assert.rejects(t[m](100000), { name: 'UnsupportedError', message: `${m}() not implemented in DirectTransport` });
	}
	assert.throws(() => t.sendRtcp(new Uint8Array(8)), { name: 'TypeError', message: 'rtcpPacket must be a Buffer' });
	const [stats] = await t.getStats();
	assert.equal(stats.type, 'direct-transport');
	assert.equal(stats.transportId, t.id);
	assert.equal(stats.bytesReceived, 0);
	const dump = await t.dump();
	assert.equal(dump.id, t.id);
	assert.equal(dump.maxSendMessageSize, 1000);
	assert.equal(dump.maxReceiveMessageSize, 262144);
	await assert.rejects(router.createDirectTransport({ appData: 1 }), { name: 'TypeError', message: 'if given, appData must be an object' });
	const producer = await t.produce({ kind: 'video', rtpParameters: rtp.vp8Parameters(1234) });
	assert.throws(() => producer.send('not a buffer'), { name: 'TypeError', message: 'rtpPacket must be a Buffer' });
	t.close();
	await assert.rejects(t.getStats(), NotFoundError);
});

test('producer.send() → consumers\' rtp events, rewritten into their own SSRC and sequence', async () => {
	const input = await router.createDirectTransport();
	const producer = await input.produce({ kind: 'video', rtpParameters: rtp.vp8Parameters(5555) });
	const outputs = await Promise.all([0, 1].map(() => router.createDirectTransport()));
	const consumers = await Promise.all(outputs.map((o) => o.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities })));
	const got = consumers.map(() => []);
	consumers.forEach((c, i) => c.on('rtp', (p) => got[i].push(p)));
	// Not a key frame first: the consumers wait for one (and ask for it, below).
	producer.send(rtp.vp8Packet({ seq: 1, ts: 0, ssrc: 5555 }));
	for (let i = 0; i < 20; i++) producer.send(rtp.vp8Packet({ seq: 2 + i, ts: 3000 * (i + 1), ssrc: 5555, key: i === 0 }));
	// Garbage and unknown SSRCs are dropped by the worker.
	producer.send(Buffer.from([1, 2, 3]));
	producer.send(rtp.vp8Packet({ seq: 1, ts: 0, ssrc: 9999, key: true }));
	await until(() => got.every((g) => g.length === 20), 'both consumers got the 20 packets from the key frame on');
	consumers.forEach((c, i) => {
		const ssrc = c.rtpParameters.encodings[0].ssrc;
		assert.ok(got[i].every((p) => p.readUInt32BE(8) === ssrc));
		const seqs = got[i].map((p) => p.readUInt16BE(2));
		for (let k = 1; k < seqs.length; k++) assert.equal(seqs[k], (seqs[k - 1] + 1) & 0xffff);
		// As mediasoup's: no RTP padding (UDP transports pad video for segmented sends).
		assert.ok(got[i].some((p) => p.length % 16 !== 0), 'sizes padding would change');
		assert.ok(got[i].every((p) => (p[0] & 0x20) === 0), 'no padding');
	});
	const [inStats] = await input.getStats();
	assert.ok(inStats.bytesReceived > 0);
	assert.ok(inStats.rtpBytesReceived > 0);
	const [outStats] = await outputs[0].getStats();
	assert.ok(outStats.rtpBytesSent > 0);
	const [ps] = await producer.getStats();
	assert.equal(ps.packetCount, 21);
	for (const t of [input, ...outputs]) t.close();
});

test('RTCP both ways: a consumer\'s PLI through sendRtcp() reaches the producer\'s transport as an rtcp event', async () => {
	const input = await router.createDirectTransport();
	// No key frame cache: a viewer's PLI then goes to the sender (instead of a replay).
	const producer = await input.produce({ kind: 'video', rtpParameters: rtp.vp8Parameters(6666), keyFrameCache: false });
	const fromWorker = [];
	input.on('rtcp', (p) => fromWorker.push(...rtcpPackets(p)));
	const plis = () => fromWorker.filter((p) => p.pt === 206 && p.fmt === 1 && p.mediaSsrc === 6666).length;
	const output = await router.createDirectTransport();
	const consumer = await output.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities });
	// Creating the consumer already asked the sender for a key frame (PLI, PT 206 FMT 1).
	await until(() => plis() >= 1, 'a PLI for the producer');
	producer.send(rtp.vp8Packet({ seq: 10, ts: 0, ssrc: 6666, key: true }));
	await once(consumer, 'rtp');
	// The app, as the receiver, asks again once the merge window (250 ms) has passed.
	await new Promise((r) => setTimeout(r, 400));
	const before = plis();
	const pli = Buffer.alloc(12);
	pli[0] = 0x81;
	pli[1] = 206;
	pli.writeUInt16BE(2, 2);
	pli.writeUInt32BE(1, 4);
	pli.writeUInt32BE(consumer.rtpParameters.encodings[0].ssrc, 8);
	output.sendRtcp(pli);
	await until(() => plis() > before, 'the app\'s PLI forwarded to the sender');
	const [cs] = await consumer.getStats();
	assert.ok(cs.pliCount >= 1);
	// Oversized RTCP is dropped and counted.
	output.sendRtcp(Buffer.alloc(2000));
	let s;
	for (let i = 0; i < 200; i++) {
		[s] = await output.getStats();
		if (s.drops.overLimit === 1) break;
		await new Promise((r) => setTimeout(r, 10));
	}
	assert.equal(s.drops.overLimit, 1);
	assert.ok(s.bytesReceived >= 2000 + 12);
	input.close();
	output.close();
});

test('closed worker: send() and sendRtcp() throw WorkerClosedError; cascades', async () => {
	const w = await ferrosoup.createWorker();
	const r = await w.createRouter({ mediaCodecs: codecs.opusVp8 });
	const t = await r.createDirectTransport();
	const producer = await t.produce({ kind: 'video', rtpParameters: rtp.vp8Parameters(7) });
	const closed = once(producer, 'transportclose');
	const routerClosed = once(t, 'routerclose');
	r.close();
	await Promise.all([closed, routerClosed]);
	w.close();
	assert.throws(() => producer.send(rtp.vp8Packet({ seq: 1, ts: 0, ssrc: 7, key: true })), WorkerClosedError);
	assert.throws(() => t.sendRtcp(Buffer.alloc(8)), WorkerClosedError);
});
