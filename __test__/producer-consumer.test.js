'use strict';

// Producers and Consumers through the public API, checked against mediasoup 3.27.1's documented
// behaviour; RTP parameters are checked against mediasoup's own ORTC functions (the oracle).
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const ferrosoup = require('..');
const oracle = require('./lib/oracle');
const codecs = require('./lib/codecs');

const { UnsupportedError, NotFoundError } = ferrosoup.errors;
const UDP = [{ protocol: 'udp', ip: '127.0.0.1' }];

const URI = {
	mid: 'urn:ietf:params:rtp-hdrext:sdes:mid',
	rid: 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
	rrid: 'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id',
	absSendTime: 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
	twcc: 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
	audioLevel: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level',
	orientation: 'urn:3gpp:video-orientation',
	toffset: 'urn:ietf:params:rtp-hdrext:toffset',
};

const VP8_FEEDBACK = [
	{ type: 'goog-remb', parameter: '' },
	{ type: 'transport-cc', parameter: '' },
	{ type: 'ccm', parameter: 'fir' },
	{ type: 'nack', parameter: '' },
	{ type: 'nack', parameter: 'pli' },
];

// What mediasoup-client sends for a Chrome microphone track.
const AUDIO = Object.freeze({
	kind: 'audio',
	rtpParameters: {
		mid: '0',
		codecs: [
			{
				mimeType: 'audio/opus',
				payloadType: 111,
				clockRate: 48000,
				channels: 2,
				parameters: { minptime: 10, useinbandfec: 1 },
				rtcpFeedback: [{ type: 'transport-cc', parameter: '' }],
			},
		],
		headerExtensions: [
			{ uri: URI.mid, id: 4, encrypt: false, parameters: {} },
			{ uri: URI.absSendTime, id: 2, encrypt: false, parameters: {} },
			{ uri: URI.twcc, id: 3, encrypt: false, parameters: {} },
			{ uri: URI.audioLevel, id: 1, encrypt: false, parameters: {} },
		],
		encodings: [{ ssrc: 33333333, dtx: false }],
		rtcp: { cname: 'Hs8nWb3TqZ1xYc2v', reducedSize: true },
	},
});

// ... and for a Chrome camera track, single stream with RTX.
const VIDEO = Object.freeze({
	kind: 'video',
	rtpParameters: {
		mid: '1',
		codecs: [
			{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, parameters: {}, rtcpFeedback: VP8_FEEDBACK },
			{ mimeType: 'video/rtx', payloadType: 97, clockRate: 90000, parameters: { apt: 96 }, rtcpFeedback: [] },
		],
		headerExtensions: [
			{ uri: URI.mid, id: 4, encrypt: false, parameters: {} },
			{ uri: URI.absSendTime, id: 2, encrypt: false, parameters: {} },
			{ uri: URI.twcc, id: 3, encrypt: false, parameters: {} },
			{ uri: URI.orientation, id: 13, encrypt: false, parameters: {} },
			{ uri: URI.toffset, id: 14, encrypt: false, parameters: {} },
		],
		encodings: [{ ssrc: 11111111, rtx: { ssrc: 22222222 } }],
		rtcp: { cname: 'Hs8nWb3TqZ1xYc2v', reducedSize: true },
	},
});

// ... and a simulcast camera (three RID streams, three temporal layers each).
const SIMULCAST = Object.freeze({
	kind: 'video',
	rtpParameters: {
		mid: '2',
		codecs: VIDEO.rtpParameters.codecs,
		headerExtensions: [
			...VIDEO.rtpParameters.headerExtensions,
			{ uri: URI.rid, id: 10, encrypt: false, parameters: {} },
			{ uri: URI.rrid, id: 11, encrypt: false, parameters: {} },
		],
		encodings: [
			{ rid: 'r0', active: true, scalabilityMode: 'L1T3', scaleResolutionDownBy: 4, maxBitrate: 100000 },
			{ rid: 'r1', active: true, scalabilityMode: 'L1T3', scaleResolutionDownBy: 2, maxBitrate: 300000 },
			{ rid: 'r2', active: true, scalabilityMode: 'L1T3', scaleResolutionDownBy: 1, maxBitrate: 900000 },
		],
		rtcp: { cname: 'Hs8nWb3TqZ1xYc2v', reducedSize: true },
	},
});

// A receiving device's capabilities as mediasoup-client derives them for this router.
const DEVICE = Object.freeze({
	codecs: [
		{
			kind: 'audio',
			mimeType: 'audio/opus',
			preferredPayloadType: 100,
			clockRate: 48000,
			channels: 2,
			parameters: { minptime: 10, useinbandfec: 1 },
			rtcpFeedback: [
				{ type: 'nack', parameter: '' },
				{ type: 'transport-cc', parameter: '' },
			],
		},
		{ kind: 'video', mimeType: 'video/VP8', preferredPayloadType: 101, clockRate: 90000, parameters: {}, rtcpFeedback: VP8_FEEDBACK },
		{ kind: 'video', mimeType: 'video/rtx', preferredPayloadType: 102, clockRate: 90000, parameters: { apt: 101 }, rtcpFeedback: [] },
	],
	headerExtensions: [
		{ kind: 'audio', uri: URI.mid, preferredId: 1, preferredEncrypt: false, direction: 'sendrecv' },
		{ kind: 'video', uri: URI.mid, preferredId: 1, preferredEncrypt: false, direction: 'sendrecv' },
		{ kind: 'audio', uri: URI.absSendTime, preferredId: 4, preferredEncrypt: false, direction: 'sendrecv' },
		{ kind: 'video', uri: URI.absSendTime, preferredId: 4, preferredEncrypt: false, direction: 'sendrecv' },
		{ kind: 'video', uri: URI.twcc, preferredId: 5, preferredEncrypt: false, direction: 'sendrecv' },
		{ kind: 'audio', uri: URI.audioLevel, preferredId: 6, preferredEncrypt: false, direction: 'sendrecv' },
		{ kind: 'video', uri: URI.orientation, preferredId: 8, preferredEncrypt: false, direction: 'sendrecv' },
		{ kind: 'video', uri: URI.toffset, preferredId: 9, preferredEncrypt: false, direction: 'sendrecv' },
	],
});

const clone = (v) => structuredClone(v);
// JSON form: what crosses the wire (undefined members disappear on both sides).
const json = (v) => JSON.parse(JSON.stringify(v));
const tick = (ms = 50) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves with the event's arguments, or fails after `ms`. */
function waitFor(emitter, event, ms = 3000) {
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => {
			emitter.off(event, onEvent);
			reject(new Error(`timed out waiting for "${event}"`));
		}, ms);
		function onEvent(...args) {
			clearTimeout(timer);
			resolve(args);
		}
		emitter.once(event, onEvent);
	});
}

/** Counts the emissions of some events. */
function counter(emitter, events) {
	const counts = Object.fromEntries(events.map((e) => [e, 0]));
	for (const e of events) emitter.on(e, () => counts[e]++);
	return counts;
}

/** mediasoup's transport.produce() steps: the parameters a producer ends up with. */
function expectedProducerParameters(input, cname) {
	const params = clone(input);
	oracle.ortc.validateAndNormalizeRtpParameters(params);
	if (!Array.isArray(params.encodings) || params.encodings.length === 0) {
		params.encodings = [{}];
	}
	params.rtcp = params.rtcp ?? {};
	params.rtcp.cname = cname;
	return params;
}

function expectedConsumable(kind, producerParams, routerCaps) {
	const params = clone(producerParams);
	const caps = clone(routerCaps);
	const mapping = oracle.ortc.getProducerRtpParametersMapping(params, caps);
	return oracle.ortc.getConsumableRtpParameters(kind, params, caps, mapping);
}

/** mediasoup's transport.consume() steps, from the producer's consumable parameters. */
function expectedConsumerParameters(producer, deviceCaps, { pipe = false, enableRtx, mid } = {}) {
	const caps = clone(deviceCaps);
	oracle.ortc.validateAndNormalizeRtpCapabilities(caps);
	const params = oracle.ortc.getConsumerRtpParameters({
		consumableRtpParameters: producer.consumableRtpParameters,
		remoteRtpCapabilities: caps,
		pipe,
		enableRtx: enableRtx ?? producer.kind === 'video',
	});
	if (!pipe) {
		params.mid = mid;
	}
	return params;
}

/** Everything but encodings' SSRCs (random on both sides). */
function withoutSsrcs(params) {
	const copy = json(params);
	for (const encoding of copy.encodings ?? []) {
		delete encoding.ssrc;
		if (encoding.rtx) delete encoding.rtx.ssrc;
	}
	return copy;
}

function assertConsumerParameters(consumer, expected) {
	const actual = consumer.rtpParameters;
	assert.deepStrictEqual(withoutSsrcs(actual), withoutSsrcs(expected));
	const ssrcs = new Set();
	for (const encoding of actual.encodings) {
		assert.ok(Number.isInteger(encoding.ssrc) && encoding.ssrc > 0, `ssrc ${encoding.ssrc}`);
		ssrcs.add(encoding.ssrc);
		if (encoding.rtx) {
			assert.ok(Number.isInteger(encoding.rtx.ssrc) && encoding.rtx.ssrc > 0);
			ssrcs.add(encoding.rtx.ssrc);
		}
	}
	assert.equal(ssrcs.size, actual.encodings.length + actual.encodings.filter((e) => e.rtx).length, 'distinct SSRCs');
}

let worker;

before(async () => {
	worker = await ferrosoup.createWorker({ rtcMinPort: 44000, rtcMaxPort: 44999 });
});
after(() => worker.close());

/** A router with two WebRTC transports; closed when the test ends. */
async function setup(t) {
	const router = await worker.createRouter({ mediaCodecs: codecs.opusVp8 });
	const transport1 = await router.createWebRtcTransport({ listenInfos: UDP });
	const transport2 = await router.createWebRtcTransport({ listenInfos: UDP });
	t.after(() => router.close());
	return { router, transport1, transport2 };
}

test('produce(): a Producer in mediasoup\'s shape, parameters as mediasoup computes them', async (t) => {
	const { router, transport1 } = await setup(t);
	const newProducers = [];
	transport1.observer.on('newproducer', (p) => newProducers.push(p));

	const audio = await transport1.produce({ ...clone(AUDIO), appData: { foo: 1 } });
	assert.deepStrictEqual(newProducers, [audio]);
	assert.match(audio.id, /^[0-9a-f-]{36}$/);
	assert.equal(audio.closed, false);
	assert.equal(audio.kind, 'audio');
	assert.equal(audio.type, 'simple');
	assert.equal(audio.paused, false);
	assert.deepStrictEqual(audio.score, []);
	assert.deepStrictEqual(audio.appData, { foo: 1 });
	const audioParams = expectedProducerParameters(AUDIO.rtpParameters, AUDIO.rtpParameters.rtcp.cname);
	assert.deepStrictEqual(json(audio.rtpParameters), json(audioParams));
	const audioConsumable = expectedConsumable('audio', audioParams, router.rtpCapabilities);
	assert.deepStrictEqual(withoutSsrcs(audio.consumableRtpParameters), withoutSsrcs(audioConsumable));
	assert.equal(audio.consumableRtpParameters.encodings.length, 1);
	assert.ok(Number.isInteger(audio.consumableRtpParameters.encodings[0].ssrc));

	// Getters hand out copies.
	audio.rtpParameters.mid = 'changed';
	assert.equal(audio.rtpParameters.mid, '0');

	// A CNAME of its own is overridden: every producer of a transport shares the first one.
	const video = await transport1.produce({
		...clone(VIDEO),
		rtpParameters: { ...clone(VIDEO.rtpParameters), rtcp: { cname: 'other-cname' } },
	});
	assert.equal(video.type, 'simple');
	assert.deepStrictEqual(video.appData, {});
	const videoParams = expectedProducerParameters(
		{ ...clone(VIDEO.rtpParameters), rtcp: { cname: 'other-cname' } },
		AUDIO.rtpParameters.rtcp.cname
	);
	assert.deepStrictEqual(json(video.rtpParameters), json(videoParams));
	const videoConsumable = expectedConsumable('video', videoParams, router.rtpCapabilities);
	assert.deepStrictEqual(withoutSsrcs(video.consumableRtpParameters), withoutSsrcs(videoConsumable));
	assert.notEqual(video.consumableRtpParameters.encodings[0].ssrc, audio.consumableRtpParameters.encodings[0].ssrc);

	const transportDump = await transport1.dump();
	assert.deepStrictEqual(transportDump.producerIds.slice().sort(), [audio.id, video.id].sort());
	assert.deepStrictEqual(transportDump.consumerIds, []);
	const routerDump = await router.dump();
	assert.deepStrictEqual(
		json(routerDump.mapProducerIdConsumerIds).sort((a, b) => a.key.localeCompare(b.key)),
		[
			{ key: audio.id, values: [] },
			{ key: video.id, values: [] },
		].sort((a, b) => a.key.localeCompare(b.key))
	);
	assert.deepStrictEqual(routerDump.mapConsumerIdProducerId, []);
});

test('produce(): simulcast and SVC types, given id, paused, no encodings, random CNAME', async (t) => {
	const { router, transport1, transport2 } = await setup(t);
	const simulcast = await transport1.produce(clone(SIMULCAST));
	assert.equal(simulcast.type, 'simulcast');
	const params = expectedProducerParameters(SIMULCAST.rtpParameters, SIMULCAST.rtpParameters.rtcp.cname);
	assert.deepStrictEqual(json(simulcast.rtpParameters), json(params));
	const consumable = simulcast.consumableRtpParameters;
	assert.deepStrictEqual(withoutSsrcs(consumable), withoutSsrcs(expectedConsumable('video', params, router.rtpCapabilities)));
	assert.equal(new Set(consumable.encodings.map((e) => e.ssrc)).size, 3);

	// mediasoup 3.27: one VP8 stream with temporal layers is an SVC producer.
	const svc = await transport1.produce({
		kind: 'video',
		rtpParameters: { ...clone(VIDEO.rtpParameters), mid: '3', encodings: [{ ssrc: 44444444, scalabilityMode: 'L1T3' }] },
	});
	assert.equal(svc.type, 'svc');

	// Given id; paused; missing encodings become [{}] (the MID identifies the stream).
	const id = '0c6d1ee6-8a2a-4b16-a4a1-7c6e4b0a7e3f';
	const paused = await transport2.produce({
		id,
		kind: 'audio',
		paused: true,
		rtpParameters: {
			mid: 'AUDIO',
			codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }],
		},
	});
	assert.equal(paused.id, id);
	assert.equal(paused.paused, true);
	assert.deepStrictEqual(paused.rtpParameters.encodings, [{}]);
	assert.deepStrictEqual(paused.rtpParameters.headerExtensions, []);
	// Without a CNAME, the transport makes one up and keeps using it.
	const cname = paused.rtpParameters.rtcp.cname;
	assert.equal(typeof cname, 'string');
	assert.ok(cname.length > 0);
	assert.equal(paused.rtpParameters.rtcp.reducedSize, true);
	assert.equal(paused.consumableRtpParameters.rtcp.cname, cname);
	const second = await transport2.produce({
		kind: 'audio',
		rtpParameters: {
			mid: 'AUDIO2',
			codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }],
			encodings: [{ ssrc: 1234 }],
		},
	});
	assert.equal(second.rtpParameters.rtcp.cname, cname);
	assert.equal((await paused.dump()).paused, true);
	assert.equal((await second.dump()).paused, false);
});

test('produce() rejects bad arguments with TypeError, unsupported codecs with UnsupportedError', async (t) => {
	const { transport1, transport2 } = await setup(t);
	const producer = await transport1.produce(clone(AUDIO));
	const newProducers = [];
	transport1.observer.on('newproducer', (p) => newProducers.push(p));

	await assert.rejects(transport1.produce({ ...clone(VIDEO), id: producer.id }), TypeError);
	await assert.rejects(transport1.produce({ kind: 'chicken', rtpParameters: clone(AUDIO.rtpParameters) }), {
		name: 'TypeError',
		message: 'invalid kind "chicken"',
	});
	await assert.rejects(transport1.produce({ kind: 'audio', rtpParameters: clone(AUDIO.rtpParameters), appData: 'x' }), TypeError);
	await assert.rejects(transport1.produce({ kind: 'audio' }), TypeError);
	await assert.rejects(transport1.produce({ kind: 'audio', rtpParameters: 'x' }), TypeError);
	// No codecs.
	await assert.rejects(transport1.produce({ kind: 'audio', rtpParameters: {} }), TypeError);
	// SSRC of the wrong type.
	await assert.rejects(
		transport1.produce({
			kind: 'audio',
			rtpParameters: { ...clone(AUDIO.rtpParameters), mid: 'x1', encodings: [{ ssrc: '1111' }] },
		}),
		TypeError
	);
	// RTX whose apt names no codec.
	await assert.rejects(
		transport1.produce({
			kind: 'video',
			rtpParameters: {
				mid: 'x2',
				codecs: [
					{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000 },
					{ mimeType: 'video/rtx', payloadType: 97, clockRate: 90000, parameters: { apt: 95 } },
				],
				encodings: [{ ssrc: 6666, rtx: { ssrc: 6667 } }],
			},
		}),
		TypeError
	);
	// Codecs the router does not have.
	await assert.rejects(
		transport1.produce({
			kind: 'video',
			rtpParameters: {
				mid: 'x3',
				codecs: [
					{ mimeType: 'video/H264', payloadType: 112, clockRate: 90000,
						parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f' } },
				],
				encodings: [{ ssrc: 7777 }],
			},
		}),
		UnsupportedError
	);
	await assert.rejects(
		transport1.produce({
			kind: 'audio',
			rtpParameters: { mid: 'x4', codecs: [{ mimeType: 'audio/ISAC', payloadType: 108, clockRate: 32000 }], encodings: [{ ssrc: 8888 }] },
		}),
		UnsupportedError
	);
	// MID or SSRC already taken in this transport (fine in another one): a plain Error.
	await assert.rejects(
		transport1.produce({ kind: 'audio', rtpParameters: { ...clone(AUDIO.rtpParameters), encodings: [{ ssrc: 55555555 }] } }),
		{ name: 'Error' }
	);
	await assert.rejects(
		transport1.produce({ kind: 'audio', rtpParameters: { ...clone(AUDIO.rtpParameters), mid: 'other' } }),
		{ name: 'Error' }
	);
	// No MID and a single encoding with neither SSRC nor RID: nothing to route by.
	await assert.rejects(
		transport1.produce({
			kind: 'audio',
			rtpParameters: { codecs: clone(AUDIO.rtpParameters.codecs), encodings: [{}] },
		}),
		TypeError
	);
	assert.deepStrictEqual(newProducers, []);
	assert.deepStrictEqual((await transport1.dump()).producerIds, [producer.id]);
	const elsewhere = await transport2.produce(clone(AUDIO));
	assert.equal(elsewhere.kind, 'audio');
});

test('router.canConsume(): true for a matching device, false otherwise', async (t) => {
	const { router, transport1 } = await setup(t);
	const audio = await transport1.produce(clone(AUDIO));
	const video = await transport1.produce(clone(VIDEO));
	assert.equal(router.canConsume({ producerId: audio.id, rtpCapabilities: clone(DEVICE) }), true);
	assert.equal(router.canConsume({ producerId: video.id, rtpCapabilities: clone(DEVICE) }), true);
	assert.equal(router.canConsume({ producerId: video.id, rtpCapabilities: router.rtpCapabilities }), true);
	const isac = {
		codecs: [{ kind: 'audio', mimeType: 'audio/ISAC', preferredPayloadType: 100, clockRate: 32000, channels: 1 }],
		headerExtensions: [],
	};
	assert.equal(router.canConsume({ producerId: audio.id, rtpCapabilities: isac }), false);
	assert.equal(router.canConsume({ producerId: audio.id, rtpCapabilities: { codecs: [], headerExtensions: [] } }), false);
	// RTX alone is no media codec.
	const rtxOnly = { codecs: [DEVICE.codecs[2]], headerExtensions: [] };
	assert.equal(router.canConsume({ producerId: video.id, rtpCapabilities: clone(rtxOnly) }), false);
	assert.equal(router.canConsume({ producerId: 'nope', rtpCapabilities: clone(DEVICE) }), false);
	audio.close();
	assert.equal(router.canConsume({ producerId: audio.id, rtpCapabilities: clone(DEVICE) }), false);
});

test('consume(): Consumers in mediasoup\'s shape, MIDs per transport, RTX for video', async (t) => {
	const { router, transport1, transport2 } = await setup(t);
	const audioProducer = await transport1.produce(clone(AUDIO));
	const videoProducer = await transport1.produce(clone(VIDEO));
	const newConsumers = [];
	transport2.observer.on('newconsumer', (c) => newConsumers.push(c));

	const audio = await transport2.consume({
		producerId: audioProducer.id,
		rtpCapabilities: clone(DEVICE),
		appData: { baz: 'LOL' },
	});
	assert.deepStrictEqual(newConsumers, [audio]);
	assert.match(audio.id, /^[0-9a-f-]{36}$/);
	assert.equal(audio.producerId, audioProducer.id);
	assert.equal(audio.closed, false);
	assert.equal(audio.kind, 'audio');
	assert.equal(audio.type, 'simple');
	assert.equal(audio.paused, false);
	assert.equal(audio.producerPaused, false);
	assert.equal(audio.priority, 1);
	assert.deepStrictEqual(audio.score, { score: 10, producerScore: 0, producerScores: [0] });
	assert.equal(audio.preferredLayers, undefined);
	assert.equal(audio.currentLayers, undefined);
	assert.deepStrictEqual(audio.appData, { baz: 'LOL' });
	assert.equal(audio.rtpParameters.mid, '0');
	assertConsumerParameters(audio, expectedConsumerParameters(audioProducer, DEVICE, { mid: '0' }));
	assert.equal(audio.rtpParameters.encodings.length, 1);
	assert.equal(audio.rtpParameters.encodings[0].rtx, undefined);
	assert.deepStrictEqual(audio.rtpParameters.codecs.map((c) => c.payloadType), [100]);
	assert.deepStrictEqual(audio.rtpParameters.codecs[0].rtcpFeedback, []);
	assert.deepStrictEqual(audio.rtpParameters.codecs[0].parameters, { minptime: 10, useinbandfec: 1 });
	assert.equal(audio.rtpParameters.rtcp.cname, AUDIO.rtpParameters.rtcp.cname);

	const video = await transport2.consume({ producerId: videoProducer.id, rtpCapabilities: clone(DEVICE), paused: true });
	assert.deepStrictEqual(newConsumers, [audio, video]);
	assert.equal(video.kind, 'video');
	assert.equal(video.type, 'simple');
	assert.equal(video.paused, true);
	assert.deepStrictEqual(video.appData, {});
	assert.equal(video.rtpParameters.mid, '1');
	assertConsumerParameters(video, expectedConsumerParameters(videoProducer, DEVICE, { mid: '1' }));
	assert.deepStrictEqual(video.rtpParameters.codecs.map((c) => [c.mimeType, c.payloadType]), [['video/VP8', 101], ['video/rtx', 102]]);
	const [encoding] = video.rtpParameters.encodings;
	assert.equal(video.rtpParameters.encodings.length, 1);
	assert.equal(encoding.rtx.ssrc, encoding.ssrc + 1);
	assert.notEqual(encoding.ssrc, VIDEO.rtpParameters.encodings[0].ssrc);

	// A consumer in the producer's own transport is fine too; MIDs count per transport.
	const loop = await transport1.consume({ producerId: videoProducer.id, rtpCapabilities: clone(DEVICE) });
	assert.equal(loop.rtpParameters.mid, '0');
	// A given MID is used as is and does not take a number.
	const custom = await transport2.consume({ producerId: audioProducer.id, rtpCapabilities: clone(DEVICE), mid: 'custom-mid' });
	assert.equal(custom.rtpParameters.mid, 'custom-mid');
	// An empty mid means "the next one".
	const next = await transport2.consume({ producerId: audioProducer.id, rtpCapabilities: clone(DEVICE), mid: '' });
	assert.equal(next.rtpParameters.mid, '2');

	// enableRtx: RTX (and plain NACK) on audio when asked, none on video when refused.
	const audioRtx = await transport2.consume({ producerId: audioProducer.id, rtpCapabilities: clone(DEVICE), enableRtx: true });
	assertConsumerParameters(audioRtx, expectedConsumerParameters(audioProducer, DEVICE, { mid: '3', enableRtx: true }));
	assert.deepStrictEqual(audioRtx.rtpParameters.codecs[0].rtcpFeedback, [{ type: 'nack', parameter: '' }]);
	const videoNoRtx = await transport2.consume({ producerId: videoProducer.id, rtpCapabilities: clone(DEVICE), enableRtx: false });
	assertConsumerParameters(videoNoRtx, expectedConsumerParameters(videoProducer, DEVICE, { mid: '4', enableRtx: false }));
	assert.deepStrictEqual(videoNoRtx.rtpParameters.codecs.map((c) => c.mimeType), ['video/VP8']);
	assert.equal(videoNoRtx.rtpParameters.encodings[0].rtx, undefined);
	const ignoreDtx = await transport2.consume({ producerId: audioProducer.id, rtpCapabilities: clone(DEVICE), ignoreDtx: true });
	assert.equal(ignoreDtx.rtpParameters.mid, '5');

	assert.deepStrictEqual(
		[...transport2.consumers.keys()],
		[audio.id, video.id, custom.id, next.id, audioRtx.id, videoNoRtx.id, ignoreDtx.id]
	);
	const dump = await transport2.dump();
	assert.deepStrictEqual(dump.consumerIds.slice().sort(), [...transport2.consumers.keys()].sort());
	assert.deepStrictEqual(dump.producerIds, []);
	const routerDump = await router.dump();
	const byProducer = Object.fromEntries(routerDump.mapProducerIdConsumerIds.map(({ key, values }) => [key, values.slice().sort()]));
	assert.deepStrictEqual(byProducer[audioProducer.id], [audio.id, custom.id, next.id, audioRtx.id, ignoreDtx.id].sort());
	assert.deepStrictEqual(byProducer[videoProducer.id], [video.id, loop.id, videoNoRtx.id].sort());
	const byConsumer = Object.fromEntries(routerDump.mapConsumerIdProducerId.map(({ key, value }) => [key, value]));
	assert.equal(byConsumer[video.id], videoProducer.id);
	assert.equal(Object.keys(byConsumer).length, 8);
});

test('consume(): simulcast and pipe consumers, preferred layers', async (t) => {
	const { transport1, transport2 } = await setup(t);
	const producer = await transport1.produce(clone(SIMULCAST));
	const consumer = await transport2.consume({ producerId: producer.id, rtpCapabilities: clone(DEVICE) });
	assert.equal(consumer.type, 'simulcast');
	assertConsumerParameters(consumer, expectedConsumerParameters(producer, DEVICE, { mid: '0' }));
	const [encoding] = consumer.rtpParameters.encodings;
	assert.equal(consumer.rtpParameters.encodings.length, 1);
	assert.equal(encoding.scalabilityMode, 'L3T3');
	assert.equal(encoding.maxBitrate, 900000);
	assert.equal(encoding.rtx.ssrc, encoding.ssrc + 1);
	// Highest layers unless told otherwise.
	assert.deepStrictEqual(consumer.preferredLayers, { spatialLayer: 2, temporalLayer: 2 });
	assert.deepStrictEqual(consumer.score, { score: 10, producerScore: 0, producerScores: [0, 0, 0] });
	assert.equal(consumer.currentLayers, undefined);

	// Preferred layers beyond the stream's are clamped; a missing temporal layer means the top one.
	const clamped = await transport2.consume({
		producerId: producer.id,
		rtpCapabilities: clone(DEVICE),
		preferredLayers: { spatialLayer: 12 },
	});
	assert.deepStrictEqual(clamped.preferredLayers, { spatialLayer: 2, temporalLayer: 2 });
	const low = await transport2.consume({
		producerId: producer.id,
		rtpCapabilities: clone(DEVICE),
		preferredLayers: { spatialLayer: 0, temporalLayer: 1 },
	});
	assert.deepStrictEqual(low.preferredLayers, { spatialLayer: 0, temporalLayer: 1 });

	await consumer.setPreferredLayers({ spatialLayer: 1, temporalLayer: 0 });
	assert.deepStrictEqual(consumer.preferredLayers, { spatialLayer: 1, temporalLayer: 0 });
	await consumer.setPreferredLayers({ spatialLayer: 5, temporalLayer: 7 });
	assert.deepStrictEqual(consumer.preferredLayers, { spatialLayer: 2, temporalLayer: 2 });
	await consumer.setPreferredLayers({ spatialLayer: 0 });
	assert.deepStrictEqual(consumer.preferredLayers, { spatialLayer: 0, temporalLayer: 2 });
	const dump = await consumer.dump();
	assert.equal(dump.type, 'simulcast');
	assert.deepStrictEqual(
		dump.consumableRtpEncodings.map((e) => e.ssrc),
		producer.consumableRtpParameters.encodings.map((e) => e.ssrc)
	);

	// A pipe consumer gets every stream (mediasoup's parameters, no MID).
	const pipe = await transport2.consume({ producerId: producer.id, rtpCapabilities: clone(DEVICE), pipe: true });
	assert.equal(pipe.type, 'pipe');
	assertConsumerParameters(pipe, expectedConsumerParameters(producer, DEVICE, { pipe: true }));
	assert.equal(pipe.rtpParameters.encodings.length, 3);
	// Pipe consumers do not use up a MID.
	const after = await transport2.consume({ producerId: producer.id, rtpCapabilities: clone(DEVICE) });
	assert.equal(after.rtpParameters.mid, '3');
});

test('consume() rejections: TypeError, NotFoundError, UnsupportedError', async (t) => {
	const { router, transport1, transport2 } = await setup(t);
	const producer = await transport1.produce(clone(AUDIO));
	const newConsumers = [];
	transport2.observer.on('newconsumer', (c) => newConsumers.push(c));

	await assert.rejects(transport2.consume({ rtpCapabilities: clone(DEVICE) }), { name: 'TypeError', message: 'missing producerId' });
	await assert.rejects(transport2.consume({ producerId: 42, rtpCapabilities: clone(DEVICE) }), TypeError);
	await assert.rejects(transport2.consume({ producerId: producer.id, rtpCapabilities: clone(DEVICE), appData: 'x' }), TypeError);
	await assert.rejects(transport2.consume({ producerId: producer.id, rtpCapabilities: clone(DEVICE), mid: 7 }), TypeError);
	await assert.rejects(transport2.consume({ producerId: producer.id }), TypeError);
	await assert.rejects(transport2.consume({ producerId: producer.id, rtpCapabilities: 'caps' }), TypeError);
	await assert.rejects(transport2.consume({ producerId: producer.id, rtpCapabilities: { codecs: 'x' } }), TypeError);
	// ferrosoup validates capabilities on the worker (no ORTC on the Node thread), so with both
	// an unknown producer and bad capabilities the producer is reported first (mediasoup: the
	// capabilities).
	await assert.rejects(transport2.consume({ producerId: 'nope', rtpCapabilities: { codecs: 'x' } }), ferrosoup.errors.NotFoundError);
	await assert.rejects(transport2.consume({ producerId: 'nope', rtpCapabilities: clone(DEVICE) }), {
		name: 'NotFoundError',
		message: 'Producer with id "nope" not found',
	});
	await assert.rejects(transport2.consume({ producerId: 'nope', rtpCapabilities: clone(DEVICE) }), NotFoundError);
	// Producers of another router are not found either.
	const otherRouter = await worker.createRouter({ mediaCodecs: codecs.opusVp8 });
	t.after(() => otherRouter.close());
	const otherTransport = await otherRouter.createWebRtcTransport({ listenInfos: UDP });
	await assert.rejects(otherTransport.consume({ producerId: producer.id, rtpCapabilities: clone(DEVICE) }), NotFoundError);

	const isac = {
		codecs: [{ kind: 'audio', mimeType: 'audio/ISAC', preferredPayloadType: 100, clockRate: 32000, channels: 1 }],
		headerExtensions: [],
	};
	await assert.rejects(transport2.consume({ producerId: producer.id, rtpCapabilities: isac }), UnsupportedError);
	await assert.rejects(transport2.consume({ producerId: producer.id, rtpCapabilities: { codecs: [], headerExtensions: [] } }), UnsupportedError);
	assert.deepStrictEqual(newConsumers, []);
	assert.equal(transport2.consumers.size, 0);
	// A refused consume() does not use up a MID.
	const consumer = await transport2.consume({ producerId: producer.id, rtpCapabilities: clone(DEVICE) });
	assert.equal(consumer.rtpParameters.mid, '0');
	assert.equal(router.canConsume({ producerId: producer.id, rtpCapabilities: isac }), false);
});

test('producer pause()/resume(): state, observer, dump, and the consumers\' producerpause/producerresume', async (t) => {
	const { transport1, transport2 } = await setup(t);
	const producer = await transport1.produce(clone(AUDIO));
	const consumer = await transport2.consume({ producerId: producer.id, rtpCapabilities: clone(DEVICE) });
	const observed = counter(producer.observer, ['pause', 'resume']);

	const producerPause = waitFor(consumer, 'producerpause');
	await producer.pause();
	assert.equal(producer.paused, true);
	assert.equal((await producer.dump()).paused, true);
	await producerPause;
	assert.equal(consumer.producerPaused, true);
	assert.equal(consumer.paused, false);
	assert.equal((await consumer.dump()).producerPaused, true);

	// A consumer of a paused producer starts with producerPaused.
	const late = await transport2.consume({ producerId: producer.id, rtpCapabilities: clone(DEVICE) });
	assert.equal(late.producerPaused, true);
	assert.equal(late.paused, false);

	const producerResume = waitFor(consumer, 'producerresume');
	const lateResume = waitFor(late, 'producerresume');
	await producer.resume();
	assert.equal(producer.paused, false);
	assert.equal((await producer.dump()).paused, false);
	await producerResume;
	await lateResume;
	assert.equal(consumer.producerPaused, false);
	assert.equal(late.producerPaused, false);
	assert.deepStrictEqual(observed, { pause: 1, resume: 1 });

	// Without awaiting, the observer still follows each state change, in order.
	producer.pause();
	producer.resume();
	producer.pause();
	producer.pause();
	producer.pause();
	await producer.resume();
	assert.deepStrictEqual(observed, { pause: 3, resume: 3 });
	assert.equal(producer.paused, false);
});

test('consumer pause()/resume(): observer fires only when media actually stops or restarts', async (t) => {
	const { transport1, transport2 } = await setup(t);
	const producer = await transport1.produce(clone(VIDEO));
	const consumer = await transport2.consume({ producerId: producer.id, rtpCapabilities: clone(DEVICE) });
	const events = [];
	consumer.observer.on('pause', () => events.push('pause'));
	consumer.observer.on('resume', () => events.push('resume'));

	await consumer.pause();
	assert.equal(consumer.paused, true);
	assert.equal((await consumer.dump()).paused, true);
	await consumer.resume();
	assert.equal(consumer.paused, false);
	assert.equal((await consumer.dump()).paused, false);
	assert.deepStrictEqual(events, ['pause', 'resume']);
	events.length = 0;

	// The producer pauses first: the observer says 'pause' then...
	const producerPause = waitFor(consumer, 'producerpause');
	await producer.pause();
	await producerPause;
	// ...pausing the consumer too changes nothing for it...
	await consumer.pause();
	// ...nor does the producer resuming while the consumer is paused...
	const producerResume = waitFor(consumer, 'producerresume');
	await producer.resume();
	await producerResume;
	// ...until the consumer resumes.
	await consumer.resume();
	assert.deepStrictEqual(events, ['pause', 'resume']);

	// Not awaited: one event per change.
	events.length = 0;
	consumer.pause();
	consumer.resume();
	consumer.pause();
	consumer.pause();
	await consumer.resume();
	assert.deepStrictEqual(events, ['pause', 'resume', 'pause', 'resume']);
});

test('consumer: setPreferredLayers, setPriority, unsetPriority, requestKeyFrame, enableTraceEvent', async (t) => {
	const { transport1, transport2 } = await setup(t);
	const audioProducer = await transport1.produce(clone(AUDIO));
	const videoProducer = await transport1.produce(clone(VIDEO));
	const audio = await transport2.consume({ producerId: audioProducer.id, rtpCapabilities: clone(DEVICE) });
	const video = await transport2.consume({ producerId: videoProducer.id, rtpCapabilities: clone(DEVICE) });

	// A simple consumer has no layers to prefer.
	await audio.setPreferredLayers({ spatialLayer: 1, temporalLayer: 1 });
	assert.equal(audio.preferredLayers, undefined);
	await video.setPreferredLayers({ spatialLayer: 0 });
	assert.equal(video.preferredLayers, undefined);
	await assert.rejects(video.setPreferredLayers({}), TypeError);
	await assert.rejects(video.setPreferredLayers({ foo: '123' }), TypeError);
	await assert.rejects(video.setPreferredLayers({ temporalLayer: 2 }), TypeError);
	await assert.rejects(video.setPreferredLayers({ spatialLayer: '1' }), TypeError);
	await assert.rejects(video.setPreferredLayers({ spatialLayer: 1, temporalLayer: '1' }), TypeError);
	await assert.rejects(video.setPreferredLayers(), TypeError);

	assert.equal(video.priority, 1);
	await video.setPriority(2);
	assert.equal(video.priority, 2);
	assert.equal((await video.dump()).priority, 2);
	await assert.rejects(video.setPriority(), TypeError);
	await assert.rejects(video.setPriority('foo'), TypeError);
	await assert.rejects(video.setPriority(-1), TypeError);
	// Zero passes the JS check; the worker refuses it.
	await assert.rejects(video.setPriority(0), TypeError);
	assert.equal(video.priority, 2);
	await video.unsetPriority();
	assert.equal(video.priority, 1);
	assert.equal((await video.dump()).priority, 1);

	await video.requestKeyFrame();
	await audio.requestKeyFrame();

	const types = async (c) => (await c.dump()).traceEventTypes.slice().sort();
	await video.enableTraceEvent(['rtp', 'pli']);
	assert.deepStrictEqual(await types(video), ['pli', 'rtp']);
	await video.enableTraceEvent(['nack', 'FOO', 'fir']);
	assert.deepStrictEqual(await types(video), ['fir', 'nack']);
	await video.enableTraceEvent();
	assert.deepStrictEqual(await types(video), []);
	await assert.rejects(video.enableTraceEvent(123), TypeError);
	await assert.rejects(video.enableTraceEvent('rtp'), TypeError);
	await assert.rejects(video.enableTraceEvent(['fir', 123.123]), TypeError);
});

test('producer enableTraceEvent, send, dump, getStats; consumer dump, getStats', async (t) => {
	const { transport1, transport2 } = await setup(t);
	const producer = await transport1.produce(clone(VIDEO));
	const consumer = await transport2.consume({ producerId: producer.id, rtpCapabilities: clone(DEVICE) });

	const types = async () => (await producer.dump()).traceEventTypes.slice().sort();
	await producer.enableTraceEvent(['rtp', 'pli', 'sr']);
	assert.deepStrictEqual(await types(), ['pli', 'rtp', 'sr']);
	await producer.enableTraceEvent(['nack', 'FOO', 'fir']);
	assert.deepStrictEqual(await types(), ['fir', 'nack']);
	await producer.enableTraceEvent();
	assert.deepStrictEqual(await types(), []);
	await assert.rejects(producer.enableTraceEvent(123), TypeError);
	await assert.rejects(producer.enableTraceEvent('rtp'), TypeError);
	await assert.rejects(producer.enableTraceEvent(['fir', 123.123]), TypeError);
	// send() takes a Buffer (meant for DirectTransport producers; as in mediasoup, the worker
	// routes it through the transport's RTP listener, here dropping a malformed one).
	assert.throws(() => producer.send('x'), TypeError);
	producer.send(Buffer.alloc(12));

	const producerDump = await producer.dump();
	assert.equal(producerDump.id, producer.id);
	assert.equal(producerDump.kind, 'video');
	assert.equal(producerDump.type, 'simple');
	assert.equal(producerDump.paused, false);
	assert.deepStrictEqual(producerDump.rtpParameters.codecs.map((c) => c.payloadType), [96, 97]);
	assert.equal(producerDump.rtpParameters.encodings[0].ssrc, 11111111);
	assert.equal(producerDump.rtpParameters.encodings[0].rtx.ssrc, 22222222);
	// No RTP received yet: no streams to report.
	const producerStats = await producer.getStats();
	assert.ok(Array.isArray(producerStats));
	assert.deepStrictEqual(producerStats, []);

	const consumerDump = await consumer.dump();
	assert.equal(consumerDump.id, consumer.id);
	assert.equal(consumerDump.producerId, producer.id);
	assert.equal(consumerDump.kind, 'video');
	assert.equal(consumerDump.type, 'simple');
	assert.equal(consumerDump.paused, false);
	assert.equal(consumerDump.producerPaused, false);
	assert.equal(consumerDump.priority, 1);
	assert.deepStrictEqual(consumerDump.supportedCodecPayloadTypes, [101]);
	assert.equal(consumerDump.rtpParameters.encodings[0].ssrc, consumer.rtpParameters.encodings[0].ssrc);
	assert.deepStrictEqual(
		consumerDump.consumableRtpEncodings.map((e) => e.ssrc),
		producer.consumableRtpParameters.encodings.map((e) => e.ssrc)
	);
	const consumerStats = await consumer.getStats();
	assert.ok(Array.isArray(consumerStats));
	const outbound = consumerStats.find((s) => s.type === 'outbound-rtp');
	assert.ok(outbound, JSON.stringify(consumerStats));
	assert.equal(outbound.kind, 'video');
	assert.equal(outbound.mimeType, 'video/VP8');
	assert.equal(outbound.ssrc, consumer.rtpParameters.encodings[0].ssrc);
	for (const stat of consumerStats) {
		assert.ok(['outbound-rtp', 'inbound-rtp'].includes(stat.type), stat.type);
	}
});

test('notifications: producer score/videoorientationchange/trace, consumer score/layerschange/trace', async (t) => {
	const { transport1, transport2 } = await setup(t);
	const producer = await transport1.produce(clone(SIMULCAST));
	const consumer = await transport2.consume({ producerId: producer.id, rtpCapabilities: clone(DEVICE) });
	// As mediasoup's own tests do: fake the worker's notifications on the channel (private API).
	const pchannel = producer.channelForTesting;
	const scores = [];
	producer.on('score', (s) => scores.push(s));
	const observedScores = [];
	producer.observer.on('score', (s) => observedScores.push(s));
	pchannel.emit(producer.id, 'score', {
		score: [
			{ encodingIdx: 0, ssrc: 11, rid: 'r0', score: 10 },
			{ encodingIdx: 1, ssrc: 22, score: 9 },
		],
	});
	const expectedScore = [
		{ encodingIdx: 0, ssrc: 11, rid: 'r0', score: 10 },
		{ encodingIdx: 1, ssrc: 22, rid: undefined, score: 9 },
	];
	assert.deepStrictEqual(scores, [expectedScore]);
	assert.deepStrictEqual(observedScores, [expectedScore]);
	assert.deepStrictEqual(producer.score, expectedScore);
	const orientation = { camera: true, flip: false, rotation: 90 };
	const orientationEvent = waitFor(producer, 'videoorientationchange');
	const orientationObserved = waitFor(producer.observer, 'videoorientationchange');
	pchannel.emit(producer.id, 'videoorientationchange', orientation);
	assert.deepStrictEqual(await orientationEvent, [orientation]);
	assert.deepStrictEqual(await orientationObserved, [orientation]);
	const trace = { type: 'keyframe', timestamp: 1, direction: 'in', info: {} };
	const traceEvent = waitFor(producer, 'trace');
	pchannel.emit(producer.id, 'trace', trace);
	assert.deepStrictEqual(await traceEvent, [trace]);

	const cchannel = consumer.channelForTesting;
	const consumerScore = { score: 9, producerScore: 10, producerScores: [8, 10, 0] };
	const scoreEvent = waitFor(consumer, 'score');
	const scoreObserved = waitFor(consumer.observer, 'score');
	cchannel.emit(consumer.id, 'score', consumerScore);
	assert.deepStrictEqual(await scoreEvent, [consumerScore]);
	assert.deepStrictEqual(await scoreObserved, [consumerScore]);
	assert.deepStrictEqual(consumer.score, consumerScore);
	const layers = [];
	consumer.on('layerschange', (l) => layers.push(l));
	cchannel.emit(consumer.id, 'layerschange', { spatialLayer: 1, temporalLayer: 2 });
	assert.deepStrictEqual(consumer.currentLayers, { spatialLayer: 1, temporalLayer: 2 });
	cchannel.emit(consumer.id, 'layerschange', null);
	assert.equal(consumer.currentLayers, undefined);
	assert.deepStrictEqual(layers, [{ spatialLayer: 1, temporalLayer: 2 }, undefined]);
	const consumerTraces = [];
	consumer.on('trace', (tr) => consumerTraces.push(tr));
	cchannel.emit(consumer.id, 'trace', { type: 'pli', timestamp: 2, direction: 'out', info: {} });
	// Once, not twice.
	assert.equal(consumerTraces.length, 1);
});

test('producer.close(): consumers get producerclose; the producer is gone everywhere', async (t) => {
	const { router, transport1, transport2 } = await setup(t);
	const producer = await transport1.produce(clone(AUDIO));
	const consumer = await transport2.consume({ producerId: producer.id, rtpCapabilities: clone(DEVICE) });
	const producerObserved = counter(producer.observer, ['close']);
	const consumerObserved = counter(consumer.observer, ['close']);
	const consumerEvents = counter(consumer, ['producerclose', 'transportclose']);
	const producerEvents = counter(producer, ['transportclose']);

	const producerClose = waitFor(consumer, 'producerclose');
	producer.close();
	assert.equal(producer.closed, true);
	assert.deepStrictEqual(producerObserved, { close: 1 });
	// Closing twice does nothing.
	producer.close();
	assert.deepStrictEqual(producerObserved, { close: 1 });
	assert.equal(router.canConsume({ producerId: producer.id, rtpCapabilities: clone(DEVICE) }), false);
	await assert.rejects(transport2.consume({ producerId: producer.id, rtpCapabilities: clone(DEVICE) }), NotFoundError);

	await producerClose;
	assert.equal(consumer.closed, true);
	assert.deepStrictEqual(consumerObserved, { close: 1 });
	assert.deepStrictEqual(consumerEvents, { producerclose: 1, transportclose: 0 });
	assert.deepStrictEqual(producerEvents, { transportclose: 0 });
	assert.equal(transport2.consumers.size, 0);

	// The methods of closed objects reject.
	await assert.rejects(producer.dump(), Error);
	await assert.rejects(producer.getStats(), Error);
	await assert.rejects(producer.pause(), Error);
	await assert.rejects(producer.resume(), Error);
	await assert.rejects(consumer.dump(), Error);
	await assert.rejects(consumer.getStats(), Error);

	assert.deepStrictEqual((await transport1.dump()).producerIds, []);
	assert.deepStrictEqual((await transport2.dump()).consumerIds, []);
	const routerDump = await router.dump();
	assert.deepStrictEqual(routerDump.mapProducerIdConsumerIds, []);
	assert.deepStrictEqual(routerDump.mapConsumerIdProducerId, []);
	// Closing the transports later does not notify them again.
	transport1.close();
	transport2.close();
	await tick();
	assert.deepStrictEqual(producerEvents, { transportclose: 0 });
	assert.deepStrictEqual(consumerEvents, { producerclose: 1, transportclose: 0 });
});

test('consumer.close(): gone from its transport and router; methods reject', async (t) => {
	const { router, transport1, transport2 } = await setup(t);
	const producer = await transport1.produce(clone(AUDIO));
	const audio = await transport2.consume({ producerId: producer.id, rtpCapabilities: clone(DEVICE) });
	const other = await transport2.consume({ producerId: producer.id, rtpCapabilities: clone(DEVICE) });
	const observed = counter(audio.observer, ['close']);
	audio.close();
	assert.equal(audio.closed, true);
	assert.deepStrictEqual(observed, { close: 1 });
	assert.deepStrictEqual([...transport2.consumers.keys()], [other.id]);
	await assert.rejects(audio.dump(), Error);
	await assert.rejects(audio.getStats(), Error);
	await assert.rejects(audio.pause(), Error);
	await assert.rejects(audio.resume(), Error);
	await assert.rejects(audio.setPriority(2), Error);
	await assert.rejects(audio.requestKeyFrame(), Error);
	assert.deepStrictEqual((await transport2.dump()).consumerIds, [other.id]);
	const routerDump = await router.dump();
	assert.deepStrictEqual(json(routerDump.mapProducerIdConsumerIds), [{ key: producer.id, values: [other.id] }]);
	assert.deepStrictEqual(json(routerDump.mapConsumerIdProducerId), [{ key: other.id, value: producer.id }]);
	// Its producer closing later does not reach it.
	const events = counter(audio, ['producerclose']);
	const otherClose = waitFor(other, 'producerclose');
	producer.close();
	await otherClose;
	assert.deepStrictEqual(events, { producerclose: 0 });
	assert.deepStrictEqual(observed, { close: 1 });
});

test('transport.close(): its producers get transportclose, their consumers elsewhere producerclose', async (t) => {
	const { router, transport1, transport2 } = await setup(t);
	const producer = await transport1.produce(clone(VIDEO));
	const remote = await transport2.consume({ producerId: producer.id, rtpCapabilities: clone(DEVICE) });
	const local = await transport1.consume({ producerId: producer.id, rtpCapabilities: clone(DEVICE) });
	const producerEvents = counter(producer, ['transportclose']);
	const producerObserved = counter(producer.observer, ['close']);
	const localEvents = counter(local, ['transportclose', 'producerclose']);
	const remoteEvents = counter(remote, ['transportclose', 'producerclose']);
	const remoteObserved = counter(remote.observer, ['close']);

	const remoteClose = waitFor(remote, 'producerclose');
	transport1.close();
	assert.equal(producer.closed, true);
	assert.equal(local.closed, true);
	assert.deepStrictEqual(producerEvents, { transportclose: 1 });
	assert.deepStrictEqual(producerObserved, { close: 1 });
	assert.deepStrictEqual(localEvents, { transportclose: 1, producerclose: 0 });
	assert.equal(router.canConsume({ producerId: producer.id, rtpCapabilities: clone(DEVICE) }), false);
	await assert.rejects(transport2.consume({ producerId: producer.id, rtpCapabilities: clone(DEVICE) }), NotFoundError);
	await assert.rejects(transport1.produce(clone(AUDIO)), Error);

	await remoteClose;
	assert.equal(remote.closed, true);
	assert.deepStrictEqual(remoteEvents, { transportclose: 0, producerclose: 1 });
	assert.deepStrictEqual(remoteObserved, { close: 1 });
	assert.equal(transport2.consumers.size, 0);
	await tick();
	assert.deepStrictEqual(localEvents, { transportclose: 1, producerclose: 0 });
	const routerDump = await router.dump();
	assert.deepStrictEqual(routerDump.mapProducerIdConsumerIds, []);
	assert.deepStrictEqual(routerDump.mapConsumerIdProducerId, []);
});

test('router.close() and worker.close() cascade to producers and consumers', async () => {
	const w = await ferrosoup.createWorker();
	try {
		const router = await w.createRouter({ mediaCodecs: codecs.opusVp8 });
		const transport1 = await router.createWebRtcTransport({ listenInfos: UDP });
		const transport2 = await router.createWebRtcTransport({ listenInfos: UDP });
		const producer = await transport1.produce(clone(AUDIO));
		const consumer = await transport2.consume({ producerId: producer.id, rtpCapabilities: clone(DEVICE) });
		const producerEvents = counter(producer, ['transportclose']);
		const consumerEvents = counter(consumer, ['transportclose', 'producerclose']);
		const producerObserved = counter(producer.observer, ['close']);
		const consumerObserved = counter(consumer.observer, ['close']);
		router.close();
		assert.equal(transport1.closed, true);
		assert.equal(producer.closed, true);
		assert.equal(consumer.closed, true);
		assert.deepStrictEqual(producerEvents, { transportclose: 1 });
		assert.deepStrictEqual(consumerEvents, { transportclose: 1, producerclose: 0 });
		assert.deepStrictEqual(producerObserved, { close: 1 });
		assert.deepStrictEqual(consumerObserved, { close: 1 });
		await tick();
		// Nothing more arrives from the worker for them.
		assert.deepStrictEqual(consumerEvents, { transportclose: 1, producerclose: 0 });
		assert.deepStrictEqual(consumerObserved, { close: 1 });

		const router2 = await w.createRouter({ mediaCodecs: codecs.opusVp8 });
		const t1 = await router2.createWebRtcTransport({ listenInfos: UDP });
		const t2 = await router2.createWebRtcTransport({ listenInfos: UDP });
		const p = await t1.produce(clone(VIDEO));
		const c = await t2.consume({ producerId: p.id, rtpCapabilities: clone(DEVICE) });
		const pEvents = counter(p, ['transportclose']);
		const cEvents = counter(c, ['transportclose', 'producerclose']);
		w.close();
		assert.equal(p.closed, true);
		assert.equal(c.closed, true);
		assert.deepStrictEqual(pEvents, { transportclose: 1 });
		assert.deepStrictEqual(cEvents, { transportclose: 1, producerclose: 0 });
	} finally {
		w.close();
	}
});
