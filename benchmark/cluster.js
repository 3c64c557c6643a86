'use strict';

/**
 * Joins across hosts: three ferrosoup host processes on one Redis (ferrosoup/cluster), one
 * native publisher on host 1, N native viewers per host joining at once. Printed per host: the
 * time from a viewer's consume() request to its first complete key frame (p50/p90/max), on the
 * publisher's host and through a pipe (the first viewer of a host also waits for the pipe), and
 * the one-way delay publisher → a viewer there (p50/p99; the packets carry their send time).
 *
 *   node benchmark/cluster.js              # N = 10 per host
 *   node benchmark/cluster.js --viewers 30 --out /tmp/cluster.json
 */
const fs = require('node:fs');
const path = require('node:path');
const { startHost } = require('../__test__/lib/cluster-hosts');
const { startRedis } = require('../__test__/lib/redis');
const { summarize } = require('./lib/stats');

function arg(name, fallback) {
	const i = process.argv.indexOf(`--${name}`);
	return i > 0 ? process.argv[i + 1] : fallback;
}
const N = Number(arg('viewers', '10'));
const OUT = arg('out', path.join(__dirname, 'results', 'cluster.json'));


async function main() {
	const redis = await startRedis();
	const hosts = [];
	try {
		for (const id of ['h1', 'h2', 'h3']) {
			const h = startHost();
			await h.ready;
			await h.call('init', { redisUrl: redis.url, hostId: id, heartbeatMs: 1000, expiryMs: 3000 });
			hosts.push(h);
		}
		const { producerId } = await hosts[0].call('publish', { ssrc: 4444, durationMs: 60000 });
		await new Promise((r) => setTimeout(r, 1000));
		const rows = await Promise.all(hosts.map(async (h, i) => {
			const times = await Promise.all(Array.from({ length: N }, async () => {
				const t0 = Date.now();
				await h.call('watch', { producerId });
				return Date.now() - t0;
			}));
			return { host: `h${i + 1}`, where: i === 0 ? "publisher's host" : 'through a pipe', ms: summarize(times) };
		}));
		// One-way delay, a host at a time (so that they do not load each other).
		for (const [i, h] of hosts.entries()) {
			const c = await h.call('count', { producerId, durationMs: 3000 });
			rows[i].delay = { p50: c.delayP50Ms, p99: c.delayP99Ms };
		}
		const f = (x) => (x == null ? '–' : x.toFixed(2));
		console.log('| host | viewers | consume → first key frame p50 ms | p90 ms | max ms | one-way delay p50 ms | p99 ms |');
		console.log('|---|---|---|---|---|---|---|');
		for (const r of rows) console.log(`| ${r.host} (${r.where}) | ${N} | ${r.ms.p50} | ${r.ms.p90} | ${r.ms.max} | ${f(r.delay.p50)} | ${f(r.delay.p99)} |`);
		fs.mkdirSync(path.dirname(OUT), { recursive: true });
		fs.writeFileSync(OUT, JSON.stringify({ viewersPerHost: N, rows }, null, 2));
	} finally {
		for (const h of hosts) h.child.kill('SIGKILL');
		redis.stop();
	}
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
