'use strict';

// One "host" of a ferrosoup cluster for the tests: a process with one worker, joined to the
// cluster, in room `r`, driven by its parent over IPC. Publishing and viewing use the native
// test peers (real ICE/DTLS/SRTP over 127.0.0.1).
const ferrosoup = require('../..');
const { join } = require('../../cluster');
const binding = require('../../crates/tools-node');

const UDP = { listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }] };
const VP8 = [{ kind: 'video', mimeType: 'video/VP8', clockRate: 90000 }];
let cluster;
let room;
const producers = new Map();
const closedConsumers = [];

const commands = {
	async init({ redisUrl, hostId, heartbeatMs, expiryMs }) {
		const worker = await ferrosoup.createWorker({ rtcMinPort: 30000, rtcMaxPort: 39999 });
		cluster = await join({ redisUrl, hostId, workers: [worker], listenInfo: { ip: '127.0.0.1' }, publicUrl: `http://127.0.0.1/${hostId}`, heartbeatMs, expiryMs });
		room = await cluster.createRoom('r', { mediaCodecs: VP8 });
		return { hostId: cluster.hostId };
	},
	async publish({ ssrc, durationMs }) {
		const transport = await room.createWebRtcTransport(UDP);
		await transport.connect({ dtlsParameters: JSON.parse(binding.nativeViewerDtlsParameters()) });
		const producer = await transport.produce({
			kind: 'video',
			rtpParameters: { mid: '0', codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000 }], encodings: [{ ssrc }] },
		});
		producers.set(producer.id, producer);
		binding.nativePublish(JSON.stringify({
			iceParameters: transport.iceParameters, iceCandidates: transport.iceCandidates, dtlsParameters: transport.dtlsParameters,
			videoSsrc: ssrc, audioSsrc: 0, videoKbps: 300, durationMs,
		})).catch(() => {});
		return { producerId: producer.id };
	},
	async watch({ producerId }) {
		const transport = await room.createWebRtcTransport(UDP);
		const consumer = await transport.consume({ producerId, rtpCapabilities: room.rtpCapabilities });
		consumer.on('producerclose', () => closedConsumers.push(producerId));
		await transport.connect({ dtlsParameters: JSON.parse(binding.nativeViewerDtlsParameters()) });
		const result = JSON.parse(await binding.nativeViewerWatch(JSON.stringify({
			iceParameters: transport.iceParameters, iceCandidates: transport.iceCandidates, dtlsParameters: transport.dtlsParameters,
			videoSsrc: consumer.rtpParameters.encodings[0].ssrc, mimeType: 'video/VP8', timeoutMs: 15000,
		})));
		return { firstKeyFrameMs: result.firstKeyFrameMs, consumerId: consumer.id };
	},
	/** A new viewer of `producerId`: packets it receives in `durationMs`. */
	async count({ producerId, durationMs }) {
		const transport = await room.createWebRtcTransport(UDP);
		const consumer = await transport.consume({ producerId, rtpCapabilities: room.rtpCapabilities });
		await transport.connect({ dtlsParameters: JSON.parse(binding.nativeViewerDtlsParameters()) });
		const r = JSON.parse(await binding.nativeReceiverCount(JSON.stringify({
			iceParameters: transport.iceParameters, iceCandidates: transport.iceCandidates, dtlsParameters: transport.dtlsParameters, durationMs, verify: true,
		})));
		void consumer;
		return r;
	},
	async closeProducer({ producerId }) {
		producers.get(producerId).close();
		return {};
	},
	async state() {
		return { pipeHosts: room.pipeHosts(), closedConsumers, hosts: (await cluster.hosts()).map((h) => h.id), pick: await cluster.pickHost() };
	},
	async leave() {
		await cluster.leave();
		return {};
	},
};

process.on('message', async ({ id, cmd, args }) => {
	try {
		process.send({ id, result: await commands[cmd](args ?? {}) });
	} catch (error) {
		process.send({ id, error: String(error.stack ?? error) });
	}
});
process.send({ ready: true });
