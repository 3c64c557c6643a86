'use strict';

// The forwarding benchmark's server, in its own process so that its CPU accounting is its own.
// Driven over IPC by benchmark/forward.js.
const ferrosoup = require('../..');

const mediaCodecs = [
	{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
	{ kind: 'video', mimeType: 'video/VP8', clockRate: 90000 },
];
const UDP = { listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }] };
const state = { workers: [], router: null, producerTransport: null, producers: {}, transports: [] };

const params = (t) => ({ iceParameters: t.iceParameters, iceCandidates: t.iceCandidates, dtlsParameters: t.dtlsParameters });

const handlers = {
	async setup({ workers }) {
		state.workers = await Promise.all(Array.from({ length: workers }, () => ferrosoup.createWorker({ logLevel: 'error' })));
		state.router = workers > 1
			? await ferrosoup.createRouterGroup({ workers: state.workers, mediaCodecs })
			: await state.workers[0].createRouter({ mediaCodecs });
		state.producerTransport = await state.router.createWebRtcTransport(UDP);
		return params(state.producerTransport);
	},
	async produce({ dtlsParameters, videoSsrc, audioSsrc }) {
		await state.producerTransport.connect({ dtlsParameters });
		state.producers.video = await state.producerTransport.produce({
			kind: 'video',
			rtpParameters: {
				mid: '0',
				codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }] }],
				encodings: [{ ssrc: videoSsrc }],
			},
		});
		state.producers.audio = await state.producerTransport.produce({
			kind: 'audio',
			rtpParameters: { mid: '1', codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: audioSsrc }] },
		});
		return {};
	},
	async consumers({ k, dtlsParameters }) {
		const out = [];
		for (let i = 0; i < k; i++) {
			const t = await state.router.createWebRtcTransport(UDP);
			const caps = state.router.rtpCapabilities;
			const video = await t.consume({ producerId: state.producers.video.id, rtpCapabilities: caps });
			await t.consume({ producerId: state.producers.audio.id, rtpCapabilities: caps });
			await t.connect({ dtlsParameters });
			state.transports.push(t);
			out.push({ ...params(t), videoSsrc: video.rtpParameters.encodings[0].ssrc });
		}
		return out;
	},
	async usage() {
		const dumps = await Promise.all(state.workers.map((w) => w.dump()));
		// CPU and time read right after the counters, so that they describe the same moment.
		const cpu = process.cpuUsage();
		return {
			connected: state.transports.filter((t) => t.dtlsState === 'connected').length,
			cpuMs: (cpu.user + cpu.system) / 1000,
			rss: process.memoryUsage().rss,
			rtpPacketsSent: dumps.reduce((n, d) => n + (d.rtpPacketsSent ?? 0), 0),
			udpDatagramsSent: dumps.reduce((n, d) => n + (d.udpDatagramsSent ?? 0), 0),
			udpSendSyscalls: dumps.reduce((n, d) => n + (d.udpSendSyscalls ?? 0), 0),
			at: Date.now(),
		};
	},
};

process.on('message', async (msg) => {
	try {
		process.send({ id: msg.id, result: await handlers[msg.cmd](msg) });
	} catch (error) {
		process.send({ id: msg.id, error: String(error.stack ?? error) });
	}
});
