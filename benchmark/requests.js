'use strict';

/**
 * Requests under load: one worker forwards a 1.5 Mbit/s native broadcast to K native receivers
 * (each on its own WebRtcTransport), then N native viewers join at once (createWebRtcTransport,
 * consume, connect, then ICE/DTLS and a key frame from the cache). Printed per N: the worker's
 * own measure of how long requests waited for its thread (queued by the binding → taken by the
 * worker loop; `worker.dump().requestWait`), the JS round trip of each request, and the Node
 * event loop delay during the burst.
 *
 *   node benchmark/requests.js                     # K = 300, N = 50 and 500
 *   node benchmark/requests.js --k 200 --n 50 --out /tmp/requests.json
 *   node benchmark/requests.js --server            # joining viewers on one WebRtcServer
 *   node benchmark/requests.js --same-priority     # the load peer process at the server's priority
 *   node benchmark/requests.js --worker-nice -5    # the worker thread at nice -5 (needs privilege)
 */
const fs = require('node:fs');
const path = require('node:path');
const { monitorEventLoopDelay } = require('node:perf_hooks');
const ferrosoup = require('..');
const loadPeer = require('./lib/load-peer');
const { summarize } = require('./lib/stats');

function arg(name, fallback) {
	const i = process.argv.indexOf(`--${name}`);
	return i > 0 ? process.argv[i + 1] : fallback;
}
const K = Number(arg('k', '300'));
const NS = arg('n', '50,500').split(',').map(Number);
const OUT = arg('out', path.join(__dirname, 'results', 'requests.json'));
const UDP = { listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }] };
const SERVER = process.argv.includes('--server');
const SAME_PRIORITY = process.argv.includes('--same-priority');
const WORKER_NICE = arg('worker-nice', null);
const SSRC = 5150;

/** The kernel's scheduler figures for a thread of this process (Linux): ns on a CPU, ns waiting. */
function schedstat(tid) {
	try {
		const [cpuNs, delayNs] = fs.readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
		return { cpuNs, delayNs };
	} catch {
		return null;
	}
}

async function main() {
	const worker = await ferrosoup.createWorker({ rtcMinPort: 20000, rtcMaxPort: 29999 });
	// As with a mediasoup worker's process: the worker thread's priority against the Node thread.
	if (WORKER_NICE != null) require('node:os').setPriority(worker.pid, Number(WORKER_NICE));
	const router = await worker.createRouter({ mediaCodecs: [
		{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
		{ kind: 'video', mimeType: 'video/VP8', clockRate: 90000 },
	] });
	// Publisher, receivers and joining viewers run in a process of their own at a lower
	// priority (--same-priority: at the server's): on the 2 cores the server shares with them,
	// its threads get a CPU first, as on a host of their own.
	const peer = loadPeer.start({ nice: SAME_PRIORITY ? 0 : 10 });
	const dtlsParameters = JSON.parse(await peer.call('nativeViewerDtlsParameters'));
	const send = await router.createWebRtcTransport(UDP);
	await send.connect({ dtlsParameters });
	const producer = await send.produce({
		kind: 'video',
		rtpParameters: { mid: '0', codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }] }], encodings: [{ ssrc: SSRC }] },
	});
	const seconds = 30 + NS.length * 30;
	peer.call('nativePublish', { iceParameters: send.iceParameters, iceCandidates: send.iceCandidates, dtlsParameters: send.dtlsParameters, videoSsrc: SSRC, audioSsrc: 0, videoKbps: 1500, durationMs: seconds * 1000 }).catch(() => {});
	// The forwarding load: K receivers.
	for (let i = 0; i < K; i++) {
		const t = await router.createWebRtcTransport(UDP);
		await t.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities });
		await t.connect({ dtlsParameters });
		peer.call('nativeReceiverCount', { iceParameters: t.iceParameters, iceCandidates: t.iceCandidates, dtlsParameters: t.dtlsParameters, durationMs: seconds * 1000 }).catch(() => {});
	}
	await new Promise((r) => setTimeout(r, 3000));
	const before = await worker.getResourceUsage();
	await new Promise((r) => setTimeout(r, 2000));
	const after = await worker.getResourceUsage();
	const busy = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / 2000;
	// Joining viewers: a port each, or one WebRtcServer's (no socket to bind per transport).
	const joinOptions = SERVER ? { webRtcServer: await worker.createWebRtcServer(UDP) } : UDP;
	const rows = [];
	for (const n of NS) {
		await worker.dump(); // starts the worker's wait measure afresh
		const sched0 = schedstat(worker.pid);
		const t0 = performance.now();
		const loop = monitorEventLoopDelay({ resolution: 1 });
		loop.enable();
		const rtt = [];
		const timed = async (p) => {
			const t0 = performance.now();
			const v = await p;
			rtt.push(performance.now() - t0);
			return v;
		};
		const joins = await Promise.allSettled(Array.from({ length: n }, async () => {
			const t = await timed(router.createWebRtcTransport(joinOptions));
			const c = await timed(t.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities }));
			await timed(t.connect({ dtlsParameters }));
			return peer.call('nativeViewerWatch', { iceParameters: t.iceParameters, iceCandidates: t.iceCandidates, dtlsParameters: t.dtlsParameters, videoSsrc: c.rtpParameters.encodings[0].ssrc, mimeType: 'video/VP8', timeoutMs: 20000 });
		}));
		loop.disable();
		const sched1 = schedstat(worker.pid);
		const burstMs = performance.now() - t0;
		const { requestWait, requestAnswer, requestService, holds } = await worker.dump();
		if (process.env.REQUESTS_VERBOSE) {
			if (holds) console.error(`    N=${n} holds: ${holds.count}, longest ${holds.maxUs} µs, ${holds.over1ms} over 1 ms; work: ${Object.entries(holds.work).map(([k, w]) => `${k} ${w.count} (longest ${w.maxUs} µs${w.maxCpuUs ? ` / ${w.maxCpuUs} µs CPU` : ''}, ${w.over1ms} over 1 ms)`).join(', ')}`);
			for (const [m, v] of Object.entries(requestService ?? {})) console.error(`    N=${n} ${m}: ${v.count} requests, ${(v.totalUs / v.count).toFixed(0)} µs each on average (CPU ${(v.cpuUs / v.count).toFixed(0)} µs), longest ${v.maxUs} µs`);
		}
		const ok = joins.filter((j) => j.status === 'fulfilled').length;
		const r = summarize(rtt);
		rows.push({ n, joined: ok, workerWaitP50Us: requestWait.p50Us, workerWaitP99Us: requestWait.p99Us, workerWaitMaxUs: requestWait.maxUs, requests: requestWait.latest,
			// Arrival at the worker to the answer leaving it.
			answerP50Us: requestAnswer?.p50Us, answerP99Us: requestAnswer?.p99Us, answerMaxUs: requestAnswer?.maxUs, rttP50Ms: r.p50, rttP99Ms: r.p99, loopP99Ms: loop.percentile(99) / 1e6, loopMaxMs: loop.max / 1e6,
			// The worker thread's time on a CPU and waiting for one (runnable, another thread
			// running), as shares of the burst: on 2 cores shared with the load generator, waits
			// for a CPU count in the request waits above.
			busyShare: sched0 && sched1 ? (sched1.cpuNs - sched0.cpuNs) / 1e6 / burstMs : null,
			runDelayShare: sched0 && sched1 ? (sched1.delayNs - sched0.delayNs) / 1e6 / burstMs : null });
	}
	const f = (x) => (x == null ? '–' : Number(x).toFixed(2));
	console.log(`forwarding to ${K} receivers: worker ${(busy * 100).toFixed(0)}% of a core before the joins; joining on ${SERVER ? "one WebRtcServer" : "a port each"}; load peer process at ${SAME_PRIORITY ? "the same priority" : "nice 10"}${WORKER_NICE != null ? `; worker thread at nice ${WORKER_NICE}` : ''}`);
	console.log('| N joining | joined | worker wait p50 ms | p99 ms | max ms | arrival to answer p50 ms | p99 ms | max ms | JS round trip p50 ms | p99 ms | event loop p99 ms | max ms | worker on CPU | waiting for a CPU |');
	console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
	const pct = (x) => (x == null ? '–' : `${(x * 100).toFixed(0)}%`);
	for (const r of rows) {
		console.log(`| ${r.n} | ${r.joined} | ${f(r.workerWaitP50Us / 1000)} | ${f(r.workerWaitP99Us / 1000)} | ${f(r.workerWaitMaxUs / 1000)} | ${f(r.answerP50Us / 1000)} | ${f(r.answerP99Us / 1000)} | ${f(r.answerMaxUs / 1000)} | ${f(r.rttP50Ms)} | ${f(r.rttP99Ms)} | ${f(r.loopP99Ms)} | ${f(r.loopMaxMs)} | ${pct(r.busyShare)} | ${pct(r.runDelayShare)} |`);
	}
	fs.mkdirSync(path.dirname(OUT), { recursive: true });
	fs.writeFileSync(OUT, JSON.stringify({ k: K, busy, rows }, null, 2));
	worker.close();
	peer.close();
	process.exit(0);
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
