'use strict';

// The forwarding benchmark's server, in its own process so that its CPU accounting is its own.
// Driven over IPC by benchmark/forward.js. FORWARD_MODULE=mediasoup runs it on real mediasoup
// (its workers are subprocesses: their CPU is added from getResourceUsage(), and a room over
// several workers is built with pipeToRouter()).
const MODULE = process.env.FORWARD_MODULE || 'ferrosoup';
const mediasoup = MODULE === 'ferrosoup' ? require('../..') : require(MODULE);
const IN_PROCESS = MODULE === 'ferrosoup';

const mediaCodecs = [
	{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
	{ kind: 'video', mimeType: 'video/VP8', clockRate: 90000 },
];
const UDP = { listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }] };
// FORWARD_LISTEN=server: every transport of a worker on that worker's one WebRtcServer socket.
const VIA_SERVER = process.env.FORWARD_LISTEN === 'server';
const state = { workers: [], servers: new Map(), router: null, routers: [], piped: new Map(), producerTransport: null, producers: {}, transports: [], consumers: [] };

/** How a transport of `router` listens: its own port, or its worker's WebRtcServer. */
function listen(router) {
	if (!VIA_SERVER) return UDP;
	const servers = [...state.servers.values()];
	// A RouterGroup picks the server of the worker it puts the transport on.
	if (router.routers) return { webRtcServer: servers };
	const i = state.routers.indexOf(router);
	return { webRtcServer: servers[Math.max(0, i)] };
}

const params = (t) => ({ iceParameters: t.iceParameters, iceCandidates: t.iceCandidates, dtlsParameters: t.dtlsParameters });

const handlers = {
	async setup({ workers }) {
		state.workers = await Promise.all(Array.from({ length: workers }, () => mediasoup.createWorker({ logLevel: 'error' })));
		if (VIA_SERVER) {
			for (const w of state.workers) {
				state.servers.set(w, await w.createWebRtcServer({ listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }] }));
			}
		}
		if (workers > 1 && mediasoup.createRouterGroup) {
			state.router = await mediasoup.createRouterGroup({ workers: state.workers, mediaCodecs });
		} else {
			// One router per worker; consumer transports round-robin, producers piped on demand.
			state.routers = await Promise.all(state.workers.map((w) => w.createRouter({ mediaCodecs })));
			state.router = state.routers[0];
		}
		state.producerTransport = await state.router.createWebRtcTransport(listen(state.router));
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
			const router = state.routers.length > 1 ? state.routers[i % state.routers.length] : state.router;
			if (router !== state.router && !state.piped.has(router.id)) {
				for (const p of Object.values(state.producers)) {
					await state.router.pipeToRouter({ producerId: p.id, router });
				}
				state.piped.set(router.id, true);
			}
			const t = await router.createWebRtcTransport(listen(router));
			const caps = router.rtpCapabilities;
			const video = await t.consume({ producerId: state.producers.video.id, rtpCapabilities: caps });
			const audio = await t.consume({ producerId: state.producers.audio.id, rtpCapabilities: caps });
			await t.connect({ dtlsParameters });
			state.transports.push(t);
			state.consumers.push(video, audio);
			out.push({ ...params(t), videoSsrc: video.rtpParameters.encodings[0].ssrc });
		}
		return out;
	},
	async usage() {
		const t0 = performance.now();
		const lag = await new Promise((r) => setImmediate(() => r(performance.now() - t0)));
		const dumps = await Promise.all(state.workers.map((w) => w.dump()));
		if (process.env.FORWARD_VERBOSE) console.error(`    server: event loop lag ${lag.toFixed(1)} ms, dump answered after ${(performance.now() - t0).toFixed(1)} ms`);
		let rtpPacketsSent = dumps.reduce((n, d) => n + (d.rtpPacketsSent ?? 0), 0);
		if (!IN_PROCESS) {
			// mediasoup's dump has no such counter: sum the consumers' outbound streams.
			const stats = await Promise.all(state.consumers.map((c) => c.getStats().catch(() => [])));
			rtpPacketsSent = stats.flat().filter((s) => s.type === 'outbound-rtp').reduce((n, s) => n + s.packetCount, 0);
		}
		const usages = IN_PROCESS ? [] : await Promise.all(state.workers.map((w) => w.getResourceUsage()));
		// CPU and time read right after the counters, so that they describe the same moment.
		const cpu = process.cpuUsage();
		const workerCpuMs = usages.reduce((n, u) => n + u.ru_utime + u.ru_stime, 0);
		return {
			connected: state.transports.filter((t) => t.dtlsState === 'connected').length,
			cpuMs: (cpu.user + cpu.system) / 1000 + workerCpuMs,
			// Of which in user space (the rest is the kernel's: sends, and on loopback the
			// receivers' delivery, which runs in the sender's context).
			userCpuMs: cpu.user / 1000 + usages.reduce((n, u) => n + u.ru_utime, 0),
			rss: process.memoryUsage().rss,
			rtpPacketsSent,
			udpDatagramsSent: dumps.reduce((n, d) => n + (d.udpDatagramsSent ?? 0), 0),
			udpSendSyscalls: dumps.reduce((n, d) => n + (d.udpSendSyscalls ?? 0), 0),
			udpGsoDatagrams: dumps.reduce((n, d) => n + (d.udpGsoDatagrams ?? 0), 0),
			udpGsoMessages: dumps.reduce((n, d) => n + (d.udpGsoMessages ?? 0), 0),
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
