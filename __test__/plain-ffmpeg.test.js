'use strict';

// PlainTransports against a real peer: Debian's ffmpeg sends VP8 + Opus into comedia
// transports and Chromium decodes it; a consumer on a PlainTransport feeds ffmpeg, which
// records a file that ffprobe reads back; the same with SRTP (AES_CM_128_HMAC_SHA1_80).
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { once } = require('node:events');
const fs = require('node:fs');
const ferrosoup = require('..');
const kit = require('./lib/browser');
const codecs = require('./lib/codecs');
const media = require('./lib/media');
const ffmpeg = require('./lib/ffmpeg');

let worker;
let router;
let pages;
let browser;

before(async () => {
	worker = await ferrosoup.createWorker({ rtcMinPort: 48000, rtcMaxPort: 48999 });
	router = await worker.createRouter({ mediaCodecs: codecs.opusVp8 });
});

after(async () => {
	await browser?.close();
	await pages?.close();
	worker?.close();
});

const LOCAL = { protocol: 'udp', ip: '127.0.0.1' };
const VIDEO = { ssrc: 22222222, payloadType: 101 };
const AUDIO = { ssrc: 11111111, payloadType: 100 };
const vp8Params = { codecs: [{ mimeType: 'video/VP8', payloadType: VIDEO.payloadType, clockRate: 90000 }], encodings: [{ ssrc: VIDEO.ssrc }] };
const opusParams = { codecs: [{ mimeType: 'audio/opus', payloadType: AUDIO.payloadType, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: AUDIO.ssrc }] };

/** A comedia PlainTransport (RTCP on its own port, as mediasoup's docs set it up for ffmpeg). */
async function ingest(extra = {}) {
	return router.createPlainTransport({ listenInfo: LOCAL, rtcpMux: false, comedia: true, ...extra });
}

test('ffmpeg sends VP8 + Opus into comedia PlainTransports; Chromium decodes both', async () => {
	const videoIn = await ingest();
	const audioIn = await ingest();
	const video = await videoIn.produce({ kind: 'video', rtpParameters: vp8Params });
	const audio = await audioIn.produce({ kind: 'audio', rtpParameters: opusParams });
	const learned = once(videoIn, 'tuple');
	const learnedRtcp = once(videoIn, 'rtcptuple');
	const sender = ffmpeg.sendTestPattern({
		video: { ...VIDEO, port: videoIn.tuple.localPort, rtcpPort: videoIn.rtcpTuple.localPort },
		audio: { ...AUDIO, port: audioIn.tuple.localPort, rtcpPort: audioIn.rtcpTuple.localPort },
		seconds: 60,
	});
	try {
		const [tuple] = await learned;
		assert.equal(tuple.remoteIp, '127.0.0.1');
		assert.ok(tuple.remotePort > 0);
		assert.deepStrictEqual(videoIn.tuple, tuple);
		// ffmpeg sends its RTCP from the next port up, to the RTCP port.
		const [rtcpTuple] = await learnedRtcp;
		assert.equal(rtcpTuple.localPort, videoIn.rtcpTuple.localPort);
		assert.notEqual(rtcpTuple.remotePort, tuple.remotePort);

		pages = await kit.startPageServer();
		browser = await kit.launchBrowser();
		const view = await media.view({ browser, url: pages.url, router, producers: { video, audio } });
		await kit.waitFor(async () => (await view.received('video')).framesDecoded >= 15, 30000, 'Chromium decoding ffmpeg\'s video');
		await kit.waitFor(async () => (await view.received('audio')).totalSamplesReceived > 9600, 30000, 'Chromium receiving ffmpeg\'s audio');
		const [stats] = await videoIn.getStats();
		assert.equal(stats.type, 'plain-rtp-transport');
		assert.equal(stats.comedia, true);
		assert.equal(stats.rtcpMux, false);
		assert.ok(stats.rtpBytesReceived > 10000);
		assert.deepStrictEqual(stats.tuple, tuple);
		assert.deepStrictEqual(stats.rtcpTuple, rtcpTuple);
		view.transport.close();
		await view.page.close();
	} finally {
		sender.stop();
		await sender.exited;
	}
	videoIn.close();
	audioIn.close();
});

/** ffmpeg → comedia PlainTransport → consumer on a connected PlainTransport → ffmpeg file. */
async function roundTrip({ srtp }) {
	const suite = 'AES_CM_128_HMAC_SHA1_80';
	const senderKey = Buffer.from('0123456789abcdefghijklmnopqrst').toString('base64');
	const source = await ingest(srtp ? { enableSrtp: true, srtpCryptoSuite: suite } : {});
	if (srtp) {
		// comedia: only the key matters.
		await source.connect({ srtpParameters: { cryptoSuite: suite, keyBase64: senderKey } });
	}
	const producer = await source.produce({ kind: 'video', rtpParameters: vp8Params });
	const sender = ffmpeg.sendTestPattern({
		video: { ...VIDEO, port: source.tuple.localPort, rtcpPort: source.rtcpTuple.localPort },
		srtp: srtp ? { suite, keyBase64: senderKey } : undefined,
		seconds: 60,
	});
	let recorder;
	try {
		await once(source, 'tuple');
		let out;
		let result;
		// The free port ffmpeg is given can be taken by another process (tests run in parallel)
		// before ffmpeg binds it: then ffmpeg says so at once, and this tries another (bounded).
		for (let attempt = 1; ; attempt++) {
			out = await router.createPlainTransport({ listenInfo: LOCAL, enableSrtp: srtp, srtpCryptoSuite: suite });
			const consumer = await out.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities, paused: true });
			const port = await ffmpeg.freePortPair();
			recorder = await ffmpeg.recordVp8({
				port,
				payloadType: consumer.rtpParameters.codecs[0].payloadType,
				// ffmpeg decrypts with our key (the one we send with).
				crypto: srtp ? { suite, keyBase64: out.srtpParameters.keyBase64 } : undefined,
				seconds: 3,
			});
			await out.connect({ ip: '127.0.0.1', port, srtpParameters: srtp ? { cryptoSuite: suite, keyBase64: senderKey } : undefined });
			assert.equal(out.tuple.remotePort, port);
			await consumer.resume();
			result = await recorder.exited;
			if (result.code === 0 || attempt === 3 || !/bind failed: Address already in use/.test(result.stderr)) break;
			out.close();
			fs.rmSync(recorder.dir, { recursive: true, force: true });
		}
		const { code, stderr } = result;
		assert.equal(code, 0, stderr);
		const stream = await ffmpeg.probe(recorder.file);
		assert.equal(stream.codec_name, 'vp8');
		assert.equal(stream.width, 320);
		assert.equal(stream.height, 240);
		assert.ok(Number(stream.nb_read_frames) >= 60, `${stream.nb_read_frames} frames`);
		const [stats] = await out.getStats();
		assert.ok(stats.rtpBytesSent > 10000);
		out.close();
	} finally {
		sender.stop();
		recorder?.stop();
		await sender.exited;
		if (recorder) fs.rmSync(recorder.dir, { recursive: true, force: true });
	}
	source.close();
}

test('a consumer on a PlainTransport feeds ffmpeg; ffprobe reads VP8 320x240 back', () => roundTrip({ srtp: false }));

test('the same with SRTP both ways (AES_CM_128_HMAC_SHA1_80, SDES keys)', () => roundTrip({ srtp: true }));
