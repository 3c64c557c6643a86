'use strict';

// Long streams through real sockets: more than 65,536 packets (past every 16-bit wrap, and past
// the 32,768 after a consumer's sync where viewers used to lose media) from the native publisher
// to a native viewer at several thousand packets per second. Every packet must arrive.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const ferrosoup = require('..');
const binding = require('../crates/tools-node');
const codecs = require('./lib/codecs');

const LOOPBACK = { protocol: 'udp', ip: '127.0.0.1', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 };
const UDP = { listenInfos: [LOOPBACK] };
const PACKETS = 70_000;
const PPS = 5000;
let worker;

before(async () => {
	worker = await ferrosoup.createWorker({ rtcMinPort: 46000, rtcMaxPort: 46999 });
});

after(() => worker?.close());

function params(t) {
	return { iceParameters: t.iceParameters, iceCandidates: t.iceCandidates, dtlsParameters: t.dtlsParameters };
}

test(`${PACKETS} audio packets at ${PPS}/s reach the viewer, every one, past the 16-bit wraps`, async () => {
	const router = await worker.createRouter({ mediaCodecs: codecs.opusVp8 });
	const dtlsParameters = JSON.parse(binding.nativeViewerDtlsParameters());
	const send = await router.createWebRtcTransport(UDP);
	await send.connect({ dtlsParameters });
	const ssrc = 51515151;
	const producer = await send.produce({
		kind: 'audio',
		rtpParameters: {
			mid: '0',
			codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }],
			encodings: [{ ssrc }],
		},
	});
	const recv = await router.createWebRtcTransport(UDP);
	const consumer = await recv.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities });
	await recv.connect({ dtlsParameters });
	const viewerSsrc = consumer.rtpParameters.encodings[0].ssrc;
	// The viewer connects first and waits (bounded) for every packet.
	const receiving = binding.nativeReceiverCount(JSON.stringify({
		...params(recv), verify: true, expectPackets: PACKETS, durationMs: 120_000, timeoutMs: 20_000,
	}));
	await connected(recv);
	const published = JSON.parse(await binding.nativePublish(JSON.stringify({
		...params(send), videoSsrc: 0, audioSsrc: ssrc, audioPps: PPS, audioPackets: PACKETS,
		firstSeq: 65_000, durationMs: Math.ceil((PACKETS / PPS) * 1000) + 3000,
	})));
	assert.equal(published.audioPackets, PACKETS);
	const received = JSON.parse(await receiving);
	const stream = received.streams.find((s) => s.ssrc === viewerSsrc);
	assert.ok(stream, `the viewer got the consumer's stream: ${JSON.stringify(received.streams)}`);
	const [producerStats] = await producer.getStats();
	const [consumerStats] = await consumer.getStats();
	assert.equal(producerStats.packetCount, PACKETS, 'the server received every packet');
	assert.equal(consumerStats.packetCount, PACKETS, 'the consumer sent every packet');
	assert.equal(stream.packets, PACKETS, 'the viewer received every packet');
	assert.equal(stream.distinct, PACKETS, 'no duplicates');
	assert.equal(stream.lastSeq - stream.firstSeq + 1, PACKETS, 'continuous sequence numbers');
	assert.ok(stream.wraps >= 1, 'the stream crossed a 16-bit wrap');
	router.close();
});

/** Resolves once the transport's DTLS is connected (the viewer is ready to receive). */
function connected(transport) {
	if (transport.dtlsState === 'connected') return Promise.resolve();
	return new Promise((resolve) => {
		transport.on('dtlsstatechange', (state) => state === 'connected' && resolve());
	});
}
