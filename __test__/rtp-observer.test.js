'use strict';

// AudioLevelObserver and ActiveSpeakerObserver: mediasoup 3.27's API (validation, events,
// errors, cascades), fed RFC 6464 levels through a DirectTransport, then by Chromium pages
// producing WebAudio tones at known gains.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { once } = require('node:events');
const ferrosoup = require('..');
const kit = require('./lib/browser');
const codecs = require('./lib/codecs');
const rtp = require('./lib/rtp');

const { NotFoundError, WorkerClosedError } = ferrosoup.errors;
const AUDIO_LEVEL = 'urn:ietf:params:rtp-hdrext:ssrc-audio-level';
let worker;
let router;

before(async () => {
	worker = await ferrosoup.createWorker();
	router = await worker.createRouter({ mediaCodecs: codecs.opusVp8 });
});
after(() => worker.close());

const opusParameters = (ssrc) => ({
	codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }],
	headerExtensions: [{ uri: AUDIO_LEVEL, id: 1 }],
	encodings: [{ ssrc }],
});

/** An Opus packet with a one-byte header extension: the audio level byte (V bit set). */
function opus(ssrc, seq, level) {
	const header = Buffer.from([0xbe, 0xde, 0x00, 0x01, 0x10, 0x80 | level, 0x00, 0x00]);
	const p = rtp.packet({ pt: 111, seq, ts: seq * 960, ssrc, payload: Buffer.alloc(40, 1) });
	p[0] |= 0x10; // X bit
	return Buffer.concat([p.subarray(0, 12), header, p.subarray(12)]);
}

/** The next `event` of `emitter` (its arguments), or a rejection after `ms`. */
function next(emitter, event, ms = 10000) {
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => {
			emitter.off(event, on);
			reject(new Error(`no ${event} within ${ms} ms`));
		}, ms);
		const on = (...args) => {
			clearTimeout(timer);
			resolve(args);
		};
		emitter.once(event, on);
	});
}

/** Waits (bounded) until the last dominant speaker announced is `p`. */
async function dominantIs(aso, dominant, p, what) {
	const end = Date.now() + 10000;
	while (dominant.at(-1) !== p) {
		if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${dominant.map((x) => x.id ?? x)}`);
		await next(aso, 'dominantspeaker').catch(() => {});
	}
}

/** Sends each producer its level every 20 ms until stopped. */
function speak(producers) {
	const levels = new Map(producers.map(([p, ssrc, level]) => [p, { ssrc, level, seq: 0 }]));
	const timer = setInterval(() => {
		for (const [p, s] of levels) {
			if (!p.closed) p.send(opus(s.ssrc, s.seq++, s.level));
		}
	}, 20);
	return {
		set: (p, level) => {
			levels.get(p).level = level;
		},
		stop: () => clearInterval(timer),
	};
}

test('createAudioLevelObserver(): mediasoup\'s checks, getters, events, errors and cascades', async () => {
	await assert.rejects(router.createAudioLevelObserver({ maxEntries: 0 }), { name: 'TypeError', message: 'if given, maxEntries must be a positive number' });
	await assert.rejects(router.createAudioLevelObserver({ threshold: 10 }), { name: 'TypeError', message: 'if given, threshole must be a negative number greater than -127' });
	await assert.rejects(router.createAudioLevelObserver({ interval: 'x' }), { name: 'TypeError', message: 'if given, interval must be an number' });
	await assert.rejects(router.createAudioLevelObserver({ appData: 1 }), { name: 'TypeError', message: 'if given, appData must be an object' });
	await assert.rejects(router.createActiveSpeakerObserver({ interval: null }), { name: 'TypeError', message: 'if given, interval must be an number' });

	const created = once(router.observer, 'newrtpobserver');
	const alo = await router.createAudioLevelObserver({ appData: { room: 1 } });
	assert.deepStrictEqual(await created, [alo]);
	assert.equal(alo.type, 'audiolevel');
	assert.equal(alo.paused, false);
	assert.equal(alo.closed, false);
	assert.deepStrictEqual(alo.appData, { room: 1 });
	const aso = await router.createActiveSpeakerObserver();
	assert.equal(aso.type, 'activespeaker');
	const dump = await router.dump();
	assert.deepStrictEqual(dump.rtpObserverIds, [alo.id, aso.id]);
	assert.ok((await worker.dump()).channelMessageHandlers.channelRequestHandlers.includes(alo.id));

	const t = await router.createDirectTransport();
	const audio = await t.produce({ kind: 'audio', rtpParameters: opusParameters(111) });
	const video = await t.produce({ kind: 'video', rtpParameters: rtp.vp8Parameters(222) });
	const events = [];
	for (const e of ['addproducer', 'removeproducer', 'pause', 'resume', 'close']) alo.observer.on(e, () => events.push(e));
	await alo.addProducer({ producerId: audio.id });
	await alo.addProducer({ producerId: audio.id }); // idempotent, as mediasoup
	await assert.rejects(alo.addProducer({ producerId: 'nope' }), { name: 'NotFoundError', message: 'Producer with id "nope" not found' });
	await assert.rejects(alo.addProducer({ producerId: video.id }), { name: 'TypeError', message: 'not an audio Producer' });
	await aso.addProducer({ producerId: audio.id });
	await assert.rejects(aso.addProducer({ producerId: audio.id }), { name: 'Error', message: 'Producer already in map' });
	assert.deepStrictEqual((await router.dump()).mapProducerIdObserverIds.find((e) => e.key === audio.id).values, [alo.id, aso.id]);
	await alo.pause();
	await alo.pause();
	assert.equal(alo.paused, true);
	await alo.resume();
	await alo.removeProducer({ producerId: audio.id });
	assert.deepStrictEqual(events, ['addproducer', 'addproducer', 'pause', 'resume', 'removeproducer']);
	assert.deepStrictEqual((await router.dump()).mapProducerIdObserverIds.find((e) => e.key === audio.id).values, [aso.id]);

	// A closed producer leaves its observers (no event).
	audio.close();
	await new Promise((r) => setTimeout(r, 50));
	assert.equal((await router.dump()).mapProducerIdObserverIds.find((e) => e.key === audio.id), undefined);

	// Closed observers: mediasoup's errors.
	alo.close();
	assert.deepStrictEqual(events.at(-1), 'close');
	assert.deepStrictEqual((await router.dump()).rtpObserverIds, [aso.id]);
	await assert.rejects(alo.pause(), { name: 'NotFoundError', message: `Channel request handler with ID ${alo.id} not found [method:RTPOBSERVER_PAUSE]` });
	const r2 = await worker.createRouter({ mediaCodecs: codecs.opusVp8 });
	const o2 = await r2.createActiveSpeakerObserver();
	const closed = once(o2, 'routerclose');
	r2.close();
	await closed;
	assert.equal(o2.closed, true);
	await assert.rejects(o2.resume(), NotFoundError);
	const w = await ferrosoup.createWorker();
	const o3 = await (await w.createRouter({ mediaCodecs: codecs.opusVp8 })).createAudioLevelObserver();
	w.close();
	assert.equal(o3.closed, true);
	await assert.rejects(o3.pause(), { name: 'WorkerClosedError', message: 'Channel closed, cannot send request [method:RTPOBSERVER_PAUSE]' });
	assert.ok((await o3.pause().catch((e) => e)) instanceof WorkerClosedError);
	t.close();
	aso.close();
});

test('levels from producers: volumes loudest first, silence once, the dominant speaker follows', async () => {
	const t = await router.createDirectTransport();
	const [a, b, c] = await Promise.all([1, 2, 3].map((n) => t.produce({ kind: 'audio', rtpParameters: opusParameters(1000 + n) })));
	const alo = await router.createAudioLevelObserver({ maxEntries: 2, threshold: -60, interval: 250 });
	const aso = await router.createActiveSpeakerObserver({ interval: 100 });
	for (const p of [a, b, c]) {
		await alo.addProducer({ producerId: p.id });
		await aso.addProducer({ producerId: p.id });
	}
	const dominant = [];
	aso.on('dominantspeaker', ({ producer }) => dominant.push(producer));
	const voices = speak([[a, 1001, 73], [b, 1002, 73], [c, 1003, 73]]);
	try {
		// Quiet start (everyone's noise floor): the first speaker is announced.
		await dominantIs(aso, dominant, a, 'a, first in the list');
		// a at −30, b at −20, c at −50 dBov: the two loudest, loudest first. a, speaking too,
		// stays dominant (a challenger wins only while the dominant speaker is quiet).
		voices.set(a, 30);
		voices.set(b, 20);
		voices.set(c, 50);
		let volumes;
		const deadline = Date.now() + 10000;
		do {
			[volumes] = await next(alo, 'volumes');
		} while (!(volumes.length === 2 && volumes[0].volume === -20) && Date.now() < deadline);
		assert.deepStrictEqual(volumes.map((v) => [v.producer, v.volume]), [[b, -20], [a, -30]], 'the two loudest, loudest first');
		assert.equal(dominant.at(-1), a);
		// a goes quiet: b takes over.
		voices.set(a, 73);
		voices.set(c, 73);
		await dominantIs(aso, dominant, b, 'b dominant');
		// b goes quiet and c speaks: c takes over.
		voices.set(b, 73);
		voices.set(c, 15);
		await dominantIs(aso, dominant, c, 'c dominant');
		// Everyone below the threshold: one silence.
		voices.set(c, 80);
		await next(alo, 'silence');
	} finally {
		voices.stop();
	}
	t.close();
	alo.close();
	aso.close();
});

test('Chromium: WebAudio tones at different gains are ordered by loudness; the dominant speaker follows the loud one', async () => {
	const pages = await kit.startPageServer();
	const browser = await kit.launchBrowser();
	try {
		const r = await worker.createRouter({ mediaCodecs: codecs.opusVp8 });
		const transport = await r.createWebRtcTransport({ listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }] });
		const producers = [];
		const page = await kit.openPage(browser, pages.url, async (method, data) => {
			if (method === 'connect') {
				await transport.connect({ dtlsParameters: data.dtlsParameters });
				return {};
			}
			if (method === 'produce') {
				const p = await transport.produce({ kind: data.kind, rtpParameters: data.rtpParameters });
				producers.push(p);
				return { id: p.id };
			}
			throw new Error(`unexpected ${method}`);
		});
		await page.evaluate((caps) => window.ferrosoupTest.loadDevice(caps), r.rtpCapabilities);
		const tid = await page.evaluate((p) => window.ferrosoupTest.createSendTransport(p), {
			id: transport.id, iceParameters: transport.iceParameters, iceCandidates: transport.iceCandidates, dtlsParameters: transport.dtlsParameters,
		});
		// Three tones, each first at a quiet floor (−73 dBov, gain 0.0003).
		const ids = [];
		for (let i = 0; i < 3; i++) ids.push(await page.evaluate(({ tid, g }) => window.ferrosoupTest.produceTone(tid, g), { tid, g: 0.0003 }));
		assert.ok(producers.every((p) => p.rtpParameters.headerExtensions.some((e) => e.uri === AUDIO_LEVEL)), 'the tones carry audio levels');
		// Every tone's RTP must be arriving before the observers start: a speaker with no levels
		// yet scores nothing, and any tone already heard would win the first challenge against it.
		await kit.waitFor(async () => {
			const stats = await Promise.all(producers.map((p) => p.getStats()));
			return stats.every((s) => s.length > 0 && s[0].packetCount >= 25);
		}, 20000, 'RTP from all three tones');
		const alo = await r.createAudioLevelObserver({ maxEntries: 3, threshold: -70, interval: 500 });
		const aso = await r.createActiveSpeakerObserver({ interval: 200 });
		const dominant = [];
		aso.on('dominantspeaker', ({ producer }) => dominant.push(producer.id));
		const first = next(aso, 'dominantspeaker', 20000);
		for (const p of producers) {
			await alo.addProducer({ producerId: p.id });
			await aso.addProducer({ producerId: p.id });
		}
		await first;
		const gains = [0.05, 0.5, 0.005]; // about −29, −9 and −49 dBov
		for (let i = 0; i < 3; i++) await page.evaluate(({ id, g }) => window.ferrosoupTest.setGain(id, g), { id: ids[i], g: gains[i] });
		let volumes = [];
		await kit.waitFor(async () => {
			[volumes] = await next(alo, 'volumes');
			return volumes.length === 3 && volumes[0].producer.id === ids[1];
		}, 20000, 'volumes with all three, the loudest first');
		// That interval may have begun before the gains changed; the next one is wholly after.
		[volumes] = await next(alo, 'volumes');
		assert.deepStrictEqual(volumes.map((v) => v.producer.id), [ids[1], ids[0], ids[2]]);
		for (const [v, expected] of [[volumes[0], -9], [volumes[1], -29], [volumes[2], -49]]) {
			assert.ok(Math.abs(v.volume - expected) <= 3, `${v.volume} vs ${expected}`);
		}
		// The first tone was announced first; when the others go quiet the loudest takes over.
		assert.equal(dominant[0], ids[0]);
		for (const i of [0, 2]) await page.evaluate(({ id }) => window.ferrosoupTest.setGain(id, 0.0003), { id: ids[i] });
		await kit.waitFor(() => dominant.at(-1) === ids[1], 20000, 'the loud tone dominant');
		// The loud one drops to the floor and another becomes loud: it takes over.
		await page.evaluate(({ id }) => window.ferrosoupTest.setGain(id, 0.0003), { id: ids[1] });
		await page.evaluate(({ id }) => window.ferrosoupTest.setGain(id, 0.5), { id: ids[2] });
		await kit.waitFor(() => dominant.at(-1) === ids[2], 20000, 'the new loud tone dominant');
		// Silence (gain 0) everywhere: the audio level observer says so once.
		const silent = next(alo, 'silence', 20000);
		for (const id of ids) await page.evaluate(({ id }) => window.ferrosoupTest.setGain(id, 0), { id });
		await silent;
		await page.close();
		r.close();
	} finally {
		await browser.close();
		await pages.close();
	}
});
