'use strict';

// Request round trips between the Node thread and worker threads: latency, throughput and the
// Node thread's CPU per request. `node benchmark/channel.js [--json out.json]`
const { performance } = require('node:perf_hooks');
const ferrosoup = require('..');
const { mainThreadCpuMs } = require('./lib/threadcpu');
const { summarize } = require('./lib/stats');

const mediaCodecs = [
	{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
	{ kind: 'video', mimeType: 'video/VP8', clockRate: 90000 },
	{ kind: 'video', mimeType: 'video/H264', clockRate: 90000, parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f' } },
];

async function measure(name, count, concurrency, fn) {
	const latencies = [];
	const cpu0 = mainThreadCpuMs();
	const t0 = performance.now();
	let next = 0;
	async function lane() {
		while (next < count) {
			next++;
			const t = performance.now();
			await fn();
			latencies.push(performance.now() - t);
		}
	}
	await Promise.all(Array.from({ length: concurrency }, lane));
	const wall = performance.now() - t0;
	const cpu = mainThreadCpuMs() - cpu0;
	const s = summarize(latencies);
	return { name, count, concurrency, perSecond: Math.round((count / wall) * 1000), p50: s.p50, p99: s.p99, nodeCpuUsPerOp: (cpu * 1000) / count };
}

async function main() {
	const workers = await Promise.all([0, 1].map(() => ferrosoup.createWorker()));
	const routers = [];
	const rows = [];
	// Warm up.
	for (let i = 0; i < 200; i++) await workers[0].dump();
	rows.push(await measure('worker.dump()', 5000, 1, () => workers[0].dump()));
	rows.push(await measure('worker.dump()', 20000, 100, () => workers[0].dump()));
	rows.push(await measure('createRouter() (3 codecs)', 2000, 1, async () => routers.push(await workers[0].createRouter({ mediaCodecs }))));
	rows.push(await measure('createRouter() (3 codecs)', 4000, 50, async () => routers.push(await workers[routers.length % 2].createRouter({ mediaCodecs }))));
	rows.push(await measure('router.canConsume() (sync)', 20000, 1, async () => routers[0].canConsume({ producerId: 'x', rtpCapabilities: routers[0].rtpCapabilities })));
	for (const w of workers) w.close();

	console.log('| operation | concurrency | ops/s | p50 ms | p99 ms | Node-thread CPU µs/op |');
	console.log('|---|---|---|---|---|---|');
	for (const r of rows) {
		console.log(`| ${r.name} | ${r.concurrency} | ${r.perSecond} | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} | ${r.nodeCpuUsPerOp.toFixed(1)} |`);
	}
	const jsonIdx = process.argv.indexOf('--json');
	if (jsonIdx > 0) {
		require('node:fs').writeFileSync(process.argv[jsonIdx + 1], JSON.stringify(rows, null, 2));
	}
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
