'use strict';

// PipeTransport over UDP: argument checks as mediasoup's, and media between two ferrosoup
// processes on 127.0.0.1 (plain RTP and SRTP): a native publisher sends to router A here, a pipe
// consumer forwards over UDP to a pipe producer in another process, whose viewer sees key frames.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { fork } = require('node:child_process');
const path = require('node:path');
const ferrosoup = require('..');
const binding = require('../crates/tools-node');
const codecs = require('./lib/codecs');


const LOOPBACK = { protocol: 'udp', ip: '127.0.0.1' };
const UDP = { listenInfos: [LOOPBACK] };
let worker;
let router;

before(async () => {
	worker = await ferrosoup.createWorker({ rtcMinPort: 45000, rtcMaxPort: 45999 });
	router = await worker.createRouter({ mediaCodecs: codecs.opusVp8 });
});

after(() => worker?.close());

/** Another Node process running ferrosoup (__test__/lib/pipe-peer.js), driven over IPC. */
function startPeer() {
	const child = fork(path.join(__dirname, 'lib', 'pipe-peer.js'), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
	let next = 0;
	const pending = new Map();
	child.on('message', ({ id, result, error }) => {
		const p = pending.get(id);
		pending.delete(id);
		if (error) p?.reject(Object.assign(new Error(error.message), { name: error.name }));
		else p?.resolve(result);
	});
	child.on('exit', () => {
		for (const p of pending.values()) p.reject(new Error('peer process exited'));
	});
	return {
		call(cmd, args) {
			const id = ++next;
			return new Promise((resolve, reject) => {
				pending.set(id, { resolve, reject });
				child.send({ id, cmd, args });
			});
		},
		async close() {
			if (child.exitCode !== null) return;
			const exited = new Promise((resolve) => child.once('exit', resolve));
			await this.call('close').catch(() => {});
			await exited;
		},
	};
}

test('createPipeTransport() argument checks, tuple and srtpParameters', async () => {
	await assert.rejects(router.createPipeTransport({}), TypeError);
	await assert.rejects(router.createPipeTransport({ listenInfo: LOOPBACK, listenIp: '127.0.0.1' }), TypeError);
	await assert.rejects(router.createPipeTransport({ listenInfo: { protocol: 'tcp', ip: '127.0.0.1' } }), { name: 'TypeError', message: 'unsupported listen protocol' });
	await assert.rejects(router.createPipeTransport({ listenInfo: LOOPBACK, appData: 'x' }), TypeError);
	const withSctp = await router.createPipeTransport({ listenInfo: LOOPBACK, enableSctp: true });
	assert.equal(withSctp.sctpParameters.port, 5000);
	assert.equal(withSctp.sctpState, 'new');
	withSctp.close();

	const plain = await router.createPipeTransport({ listenIp: '127.0.0.1', appData: { n: 1 } });
	assert.equal(plain.type, 'pipe');
	assert.deepEqual(plain.appData, { n: 1 });
	assert.equal(plain.tuple.localIp, '127.0.0.1');
	assert.equal(plain.tuple.protocol, 'udp');
	assert.ok(plain.tuple.localPort >= 45000 && plain.tuple.localPort <= 45999);
	assert.equal(plain.tuple.remoteIp, undefined);
	assert.equal(plain.srtpParameters, undefined);

	const secure = await router.createPipeTransport({ listenInfo: { ...LOOPBACK, announcedAddress: '10.1.2.3' }, enableSrtp: true, enableRtx: true });
	assert.equal(secure.tuple.localIp, '10.1.2.3');
	assert.equal(secure.srtpParameters.cryptoSuite, 'AEAD_AES_256_GCM');
	assert.equal(Buffer.from(secure.srtpParameters.keyBase64, 'base64').length, 44);
	assert.equal((await secure.dump()).rtx, true);

	// connect() checks, with the worker's messages.
	await assert.rejects(secure.connect({ ip: '127.0.0.1', port: 5000 }), { name: 'TypeError', message: 'missing srtpParameters (SRTP enabled)' });
	await assert.rejects(plain.connect({ ip: '127.0.0.1', port: 5000, srtpParameters: secure.srtpParameters }), { name: 'TypeError', message: 'invalid srtpParameters (SRTP not enabled)' });
	await assert.rejects(secure.connect({ ip: '127.0.0.1', port: 5000, srtpParameters: { cryptoSuite: 'AES_CM_128_HMAC_SHA1_80', keyBase64: secure.srtpParameters.keyBase64 } }), TypeError);
	await assert.rejects(secure.connect({ ip: '127.0.0.1', port: 5000, srtpParameters: { cryptoSuite: 'AEAD_AES_256_GCM', keyBase64: 'AAAA' } }), { message: 'invalid decoded SRTP key length' });
	await assert.rejects(plain.connect({ port: 5000 }), { name: 'TypeError', message: 'missing ip' });
	await assert.rejects(plain.connect({ ip: '127.0.0.1' }), { name: 'TypeError', message: 'missing port' });
	await plain.connect({ ip: '127.0.0.1', port: 5000 });
	assert.equal(plain.tuple.remoteIp, '127.0.0.1');
	assert.equal(plain.tuple.remotePort, 5000);
	await assert.rejects(plain.connect({ ip: '127.0.0.1', port: 5001 }), { message: 'connect() already called' });
	const [stats] = await plain.getStats();
	assert.equal(stats.type, 'pipe-transport');
	assert.equal(stats.tuple.remotePort, 5000);

	// Its port is free once it is closed.
	const port = plain.tuple.localPort;
	plain.close();
	await router.dump();
	const again = await router.createPipeTransport({ listenInfo: { ...LOOPBACK, port } });
	assert.equal(again.tuple.localPort, port);
	again.close();
	secure.close();
});

/**
 * Publishes into router A (this process), pipes the video over UDP to another process and
 * watches it there with a native viewer. `wrongKey` tells B a key that is not A's (to prove SRTP).
 */
async function pipeAcrossProcesses({ enableSrtp, enableRtx = false, wrongKey = false }) {
	const peer = startPeer();
	try {
		const dtlsParameters = JSON.parse(binding.nativeViewerDtlsParameters());
		const send = await router.createWebRtcTransport(UDP);
		await send.connect({ dtlsParameters });
		const ssrc = 40000000 + Math.floor(Math.random() * 1e6);
		const producer = await send.produce({
			kind: 'video',
			rtpParameters: { mid: '0', codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }] }], encodings: [{ ssrc }] },
		});
		const pipeA = await router.createPipeTransport({ listenInfo: LOOPBACK, enableSrtp, enableRtx });
		const b = await peer.call('setup', { enableSrtp, enableRtx });
		await pipeA.connect({ ip: b.tuple.localIp, port: b.tuple.localPort, srtpParameters: b.srtpParameters });
		// With `wrongKey`, B is told another transport's key instead of A's.
		const other = wrongKey ? await router.createPipeTransport({ listenInfo: LOOPBACK, enableSrtp: true }) : undefined;
		const aKey = wrongKey ? other.srtpParameters : pipeA.srtpParameters;
		other?.close();
		const connected = await peer.call('connect', { ip: pipeA.tuple.localIp, port: pipeA.tuple.localPort, srtpParameters: aKey });
		assert.equal(connected.tuple.remotePort, pipeA.tuple.localPort);

		const pipeConsumer = await pipeA.consume({ producerId: producer.id });
		assert.equal(pipeConsumer.type, 'pipe');
		assert.equal(pipeConsumer.rtpParameters.codecs.some((c) => c.mimeType === 'video/rtx'), enableRtx);
		assert.equal(Boolean(pipeConsumer.rtpParameters.encodings[0].rtx), enableRtx);
		const viewer = await peer.call('produce', { id: producer.id, kind: 'video', rtpParameters: pipeConsumer.rtpParameters, viewerDtlsParameters: dtlsParameters });

		const publishing = binding.nativePublish(JSON.stringify({
			iceParameters: send.iceParameters, iceCandidates: send.iceCandidates, dtlsParameters: send.dtlsParameters,
			videoSsrc: ssrc, audioSsrc: 0, videoKbps: 500, durationMs: wrongKey ? 2000 : 3000,
		}));
		const watched = await binding.nativeViewerWatch(JSON.stringify({
			iceParameters: viewer.iceParameters, iceCandidates: viewer.iceCandidates, dtlsParameters: viewer.dtlsParameters,
			videoSsrc: viewer.ssrc, mimeType: 'video/VP8', timeoutMs: wrongKey ? 2000 : 10000,
		})).then(JSON.parse, (e) => ({ error: e.message }));
		const published = JSON.parse(await publishing);
		assert.ok(published.videoPackets > 0);
		const [sent] = await pipeConsumer.getStats();
		const bStats = await peer.call('stats');
		send.close();
		pipeA.close();
		return { watched, sent, bStats, pipeConsumer };
	} finally {
		await peer.close();
	}
}

test('PipeTransport between two ferrosoup processes, plain RTP', async () => {
	const { watched, sent, bStats } = await pipeAcrossProcesses({ enableSrtp: false });
	assert.ok(watched.firstKeyFrameMs > 0, `the viewer behind the pipe got a key frame: ${JSON.stringify(watched)}`);
	assert.ok(sent.packetCount > 0);
	assert.ok(bStats.producerPackets > 0);
	assert.ok(bStats.pipe.rtpBytesReceived > 0);
	assert.equal(bStats.dump.srtpParameters, undefined);
	assert.equal(bStats.dump.producerIds.length, 1);
});

test('PipeTransport between two ferrosoup processes, SRTP with RTX', async () => {
	const { watched, sent, bStats } = await pipeAcrossProcesses({ enableSrtp: true, enableRtx: true });
	assert.ok(watched.firstKeyFrameMs > 0, `the viewer behind the pipe got a key frame: ${JSON.stringify(watched)}`);
	assert.ok(sent.packetCount > 0);
	assert.ok(bStats.producerPackets > 0);
	assert.equal(bStats.dump.srtpParameters.cryptoSuite, 'AEAD_AES_256_GCM');
});

test('PipeTransport with SRTP: a peer holding the wrong key receives nothing', async () => {
	const { watched, sent, bStats } = await pipeAcrossProcesses({ enableSrtp: true, wrongKey: true });
	assert.ok(sent.packetCount > 0, 'A sent media into the pipe');
	assert.equal(bStats.producerPackets, 0, 'nothing decrypted on B');
	assert.equal(bStats.pipe.rtpBytesReceived, 0);
	assert.ok(bStats.pipe.bytesReceived > 0, "datagrams did arrive");
	assert.ok(!(watched.firstKeyFrameMs > 0));
});

test('PipeTransport: strangers are ignored, closing cascades to its consumers and frees the port', async () => {
	const dgram = require('node:dgram');
	const send = await router.createWebRtcTransport(UDP);
	const producer = await send.produce({
		kind: 'video',
		rtpParameters: { mid: '0', codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000 }], encodings: [{ ssrc: 515151 }] },
	});
	const pipe = await router.createPipeTransport({ listenInfo: LOOPBACK });
	const peer = dgram.createSocket('udp4');
	await new Promise((resolve) => peer.bind(0, '127.0.0.1', resolve));
	await pipe.connect({ ip: '127.0.0.1', port: peer.address().port });
	const consumer = await pipe.consume({ producerId: producer.id });
	assert.deepEqual((await pipe.dump()).consumerIds, [consumer.id]);

	// RTP-looking and garbage datagrams from an address that is not the connected one.
	const stranger = dgram.createSocket('udp4');
	const rtp = Buffer.alloc(40);
	rtp[0] = 0x80;
	rtp[1] = 96;
	rtp.writeUInt32BE(515151, 8);
	for (let i = 0; i < 20; i++) {
		stranger.send(i % 2 ? rtp : Buffer.from('garbage'), pipe.tuple.localPort, '127.0.0.1');
	}
	await new Promise((r) => setTimeout(r, 200));
	const [stats] = await pipe.getStats();
	assert.equal(stats.bytesReceived, 0, 'nothing accepted from a stranger');

	const closed = new Promise((resolve) => consumer.on('transportclose', resolve));
	const port = pipe.tuple.localPort;
	pipe.close();
	await closed;
	assert.equal(consumer.closed, true);
	assert.ok(!(await router.dump()).transportIds.includes(pipe.id));
	// The port is free again.
	const again = await router.createPipeTransport({ listenInfo: { ...LOOPBACK, port } });
	again.close();
	stranger.close();
	peer.close();
	send.close();
});
