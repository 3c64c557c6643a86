'use strict';

// The hostile-load benchmark's server, in its own process (its memory and CPU are what is
// measured): one worker, a broadcast from the native publisher, a legitimate native viewer, and
// transports for the attackers. Driven over IPC by benchmark/hostile.js.
const ferrosoup = require('../..');

const mediaCodecs = [
	{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
	{ kind: 'video', mimeType: 'video/VP8', clockRate: 90000, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'transport-cc' }] },
];
const LISTEN = { listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }, { protocol: 'tcp', ip: '127.0.0.1' }] };
const TWCC = 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01';
const state = { worker: null, router: null, producers: {}, viewer: null, transports: new Map() };
const params = (t) => ({ id: t.id, iceParameters: t.iceParameters, iceCandidates: t.iceCandidates, dtlsParameters: t.dtlsParameters });

function videoParams(ssrc, twcc) {
	return {
		mid: '0',
		codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }] }],
		headerExtensions: twcc ? [{ uri: TWCC, id: 3 }] : [],
		encodings: [{ ssrc }],
	};
}

const handlers = {
	async setup({ dtlsParameters }) {
		state.worker = await ferrosoup.createWorker({ logLevel: 'error' });
		state.router = await state.worker.createRouter({ mediaCodecs });
		const pub = await state.router.createWebRtcTransport(LISTEN);
		await pub.connect({ dtlsParameters });
		state.producers.video = await pub.produce({ kind: 'video', rtpParameters: videoParams(11111111, false) });
		state.producers.audio = await pub.produce({
			kind: 'audio',
			rtpParameters: { mid: '1', codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: 22222222 }] },
		});
		return params(pub);
	},
	/** A viewer transport consuming the broadcast's video (the legitimate viewer, or an attacker). */
	async viewer({ dtlsParameters, name }) {
		const t = await state.router.createWebRtcTransport(LISTEN);
		const consumer = await t.consume({ producerId: state.producers.video.id, rtpCapabilities: state.router.rtpCapabilities });
		await t.connect({ dtlsParameters });
		state.transports.set(name, { transport: t, consumer });
		return { ...params(t), mediaSsrc: consumer.rtpParameters.encodings[0].ssrc };
	},
	/** A publisher transport (for attackers that publish). */
	async publisher({ dtlsParameters, name, ssrc }) {
		const t = await state.router.createWebRtcTransport(LISTEN);
		await t.connect({ dtlsParameters });
		const producer = await t.produce({ kind: 'video', rtpParameters: videoParams(ssrc, true) });
		state.transports.set(name, { transport: t, producer });
		return { ...params(t), ssrc, extId: 3 };
	},
	/** A transport nobody connects (for attacks before DTLS). */
	async bare({ name }) {
		const t = await state.router.createWebRtcTransport(LISTEN);
		state.transports.set(name, { transport: t });
		return params(t);
	},
	async close({ name }) {
		state.transports.get(name)?.transport.close();
		state.transports.delete(name);
	},
	async usage({ names = [] }) {
		const at = Date.now();
		const t0 = process.hrtime.bigint();
		await state.worker.dump();
		const requestMs = Number(process.hrtime.bigint() - t0) / 1e6;
		const cpu = process.cpuUsage();
		const transports = {};
		for (const name of names) {
			const entry = state.transports.get(name);
			if (!entry) continue;
			const [s] = await entry.transport.getStats();
			transports[name] = { bytesSent: s.bytesSent, bytesReceived: s.bytesReceived, drops: s.drops };
			if (entry.consumer) {
				const [c] = await entry.consumer.getStats();
				transports[name].packetsSent = c.packetCount;
			}
		}
		return { at, rss: process.memoryUsage().rss, cpuMs: (cpu.user + cpu.system) / 1000, requestMs, transports };
	},
};

process.on('message', async (m) => {
	try {
		const result = await handlers[m.cmd](m);
		process.send({ id: m.id, result });
	} catch (error) {
		process.send({ id: m.id, error: error.message });
	}
});
