'use strict';

// ferrosoup's ORTC (Rust) against mediasoup's own JS implementation, on fixed and random input.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const ferrosoup = require('..');
const oracle = require('./lib/oracle');
const codecs = require('./lib/codecs');

const { UnsupportedError } = ferrosoup.errors;

function outcome(fn) {
	try {
		return { value: fn() };
	} catch (error) {
		return { error: error.name, message: error.message };
	}
}

function expectSame(input, ours, theirs) {
	const a = outcome(ours);
	const b = outcome(theirs);
	assert.deepStrictEqual(a, b, `different outcome for ${JSON.stringify(input)}`);
	return a;
}

const clone = (v) => structuredClone(v);

test('router capabilities equal mediasoup\'s for fixed codec sets', () => {
	for (const set of [codecs.opusVp8, codecs.full, [], undefined]) {
		const r = expectSame(
			set,
			() => ferrosoup.ortc.generateRouterRtpCapabilities(clone(set)),
			() => oracle.ortc.generateRouterRtpCapabilities(clone(set))
		);
		assert.ok(r.value, 'generated');
	}
});

test('errors have mediasoup\'s class and message', () => {
	const cases = [
		[{ mimeType: 'audio/chicken', clockRate: 8000 }],
		[{ mimeType: 'audio/opus', clockRate: 48000 }],
		[{ mimeType: 'audio/opus', channels: 2 }],
		[{ clockRate: 90000 }],
		[{ mimeType: 'image/png', clockRate: 90000 }],
		[{ mimeType: 'video/VP8', clockRate: 90000, preferredPayloadType: 'x' }],
		[{ mimeType: 'video/VP8', clockRate: 90000, parameters: { a: true } }],
		[{ mimeType: 'video/VP8', clockRate: 90000, rtcpFeedback: [{ parameter: 'pli' }] }],
		[
			{ mimeType: 'video/VP8', clockRate: 90000, preferredPayloadType: 101 },
			{ mimeType: 'video/VP9', clockRate: 90000, preferredPayloadType: 101 },
		],
		Array.from({ length: 17 }, () => ({ mimeType: 'video/VP8', clockRate: 90000 })),
		'opus',
		[7],
	];
	for (const set of cases) {
		const r = expectSame(
			set,
			() => ferrosoup.ortc.generateRouterRtpCapabilities(clone(set)),
			() => oracle.ortc.generateRouterRtpCapabilities(clone(set))
		);
		assert.ok(r.error, `expected an error for ${JSON.stringify(set)}`);
	}
	assert.throws(
		() => ferrosoup.ortc.generateRouterRtpCapabilities([{ mimeType: 'audio/chicken', clockRate: 8000 }]),
		UnsupportedError
	);
	assert.throws(() => ferrosoup.ortc.generateRouterRtpCapabilities([{ mimeType: 'audio/opus' }]), TypeError);
});

// A small deterministic PRNG so failures reproduce.
function rng(seed) {
	let s = seed >>> 0;
	return () => {
		s = (s * 1664525 + 1013904223) >>> 0;
		return s / 2 ** 32;
	};
}

function randomCodec(rand) {
	const supported = oracle.supportedRtpCapabilities.codecs;
	const base = structuredClone(supported[Math.floor(rand() * supported.length)]);
	const codec = { mimeType: base.mimeType, clockRate: base.clockRate };
	if (rand() < 0.9 && base.channels) codec.channels = base.channels;
	if (rand() < 0.1) codec.channels = 2;
	if (rand() < 0.2) codec.mimeType = codec.mimeType.toUpperCase();
	if (rand() < 0.05) codec.clockRate = 44100;
	if (rand() < 0.2) codec.preferredPayloadType = [96, 100, 101, 111, 127, 0, 45][Math.floor(rand() * 7)];
	if (rand() < 0.4) {
		codec.parameters = { ...(base.parameters ?? {}) };
		if (rand() < 0.5) codec.parameters['profile-level-id'] = ['42e01f', '4d0032', '640c1f'][Math.floor(rand() * 3)];
		if (rand() < 0.5) codec.parameters['packetization-mode'] = Math.floor(rand() * 2);
		if (rand() < 0.3) codec.parameters.useinbandfec = '1';
	}
	if (rand() < 0.2) codec.rtcpFeedback = [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }];
	if (rand() < 0.03) delete codec.clockRate;
	return codec;
}

test('random codec sets: same capabilities or same error as mediasoup (500 cases)', () => {
	const rand = rng(20261124);
	let ok = 0;
	for (let i = 0; i < 500; i++) {
		const set = Array.from({ length: 1 + Math.floor(rand() * 5) }, () => randomCodec(rand));
		const r = expectSame(
			set,
			() => ferrosoup.ortc.generateRouterRtpCapabilities(clone(set)),
			() => oracle.ortc.generateRouterRtpCapabilities(clone(set))
		);
		if (r.value) ok++;
	}
	// Both branches must have been exercised for the comparison to mean anything.
	assert.ok(ok > 50 && ok < 500, `valid sets: ${ok}`);
});

test('canConsume agrees with mediasoup on consumable parameters', () => {
	const caps = oracle.ortc.generateRouterRtpCapabilities(clone(codecs.full));
	const producer = {
		codecs: [
			{ mimeType: 'video/H264', payloadType: 125, clockRate: 90000,
				parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f' } },
			{ mimeType: 'video/rtx', payloadType: 107, clockRate: 90000, parameters: { apt: 125 } },
		],
		headerExtensions: [{ uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 1 }],
		encodings: [{ ssrc: 11111111, rtx: { ssrc: 22222222 } }],
		rtcp: { cname: 'x' },
	};
	oracle.ortc.validateAndNormalizeRtpParameters(producer);
	const mapping = oracle.ortc.getProducerRtpParametersMapping(producer, caps);
	const consumable = oracle.ortc.getConsumableRtpParameters('video', producer, caps, mapping);
	const remotes = [
		caps,
		{ codecs: [{ kind: 'video', mimeType: 'video/H264', clockRate: 90000, preferredPayloadType: 100,
			parameters: { 'packetization-mode': 1, 'profile-level-id': '42e034' } }] },
		{ codecs: [{ kind: 'video', mimeType: 'video/H264', clockRate: 90000, preferredPayloadType: 100,
			parameters: { 'packetization-mode': 1, 'profile-level-id': '640034' } }] },
		{ codecs: [{ kind: 'video', mimeType: 'video/H264', clockRate: 90000, preferredPayloadType: 100,
			parameters: { 'profile-level-id': '42e01f' } }] },
		{ codecs: [{ kind: 'video', mimeType: 'video/rtx', clockRate: 90000, preferredPayloadType: 101, parameters: { apt: 100 } }] },
		{ codecs: [{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2, preferredPayloadType: 100 }] },
		{},
		{ codecs: 'nope' },
		{ codecs: [{ mimeType: 'video/H264' }] },
	];
	const results = remotes.map((remote) =>
		expectSame(
			remote,
			() => ferrosoup.ortc.canConsume(clone(consumable), clone(remote)),
			() => oracle.ortc.canConsume(clone(consumable), clone(remote))
		)
	);
	assert.deepStrictEqual(results.slice(0, 6).map((r) => r.value), [true, true, false, false, false, false]);
});

test('validateAndNormalizeRtpParameters fills defaults in place like mediasoup', () => {
	const inputs = [
		{ codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }] },
		{ codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, channels: 3, rtcpFeedback: [{ type: 'nack' }] }],
			encodings: [{ ssrc: 1, dtx: 'yes' }], rtcp: { cname: 'c', reducedSize: false }, mid: '1' },
		{ codecs: [{ mimeType: 'video/VP8', clockRate: 90000 }] },
		{ codecs: 'x' },
		{ codecs: [], encodings: [{ rtx: { ssrc: 'a' } }] },
	];
	for (const input of inputs) {
		const ours = clone(input);
		const theirs = clone(input);
		expectSame(
			input,
			() => ferrosoup.ortc.validateAndNormalizeRtpParameters(ours),
			() => oracle.ortc.validateAndNormalizeRtpParameters(theirs)
		);
		assert.deepStrictEqual(ours, theirs);
	}
});
