'use strict';

// ferrosoup/cluster against a real redis-server (Debian's, started here on a free port): three
// host processes on 127.0.0.1 in one room. A publisher on host 1, native viewers on hosts 2 and
// 3 reach a first key frame through SRTP pipes; closing the producer reaches both; killing host
// 2 (SIGKILL) leaves host 3 playing, and once its heartbeat expired host 1 has no pipe to it and
// Redis holds nothing of it.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const kit = require('./lib/browser');
const { startHost } = require('./lib/cluster-hosts');
const { startRedis } = require('./lib/redis');

const HEARTBEAT_MS = 300;
const EXPIRY_MS = 1200;

let redisServer;
let redis;
const hosts = [];


before(async () => {
	redisServer = await startRedis();
	redis = redisServer.client;
	const redisUrl = redisServer.url;
	for (const id of ['h1', 'h2', 'h3']) {
		const h = startHost();
		await h.ready;
		await h.call('init', { redisUrl, hostId: id, heartbeatMs: HEARTBEAT_MS, expiryMs: EXPIRY_MS });
		hosts.push(h);
	}
});

after(async () => {
	for (const h of hosts) h.child.kill('SIGKILL');
	redisServer?.stop();
});

test('three hosts in one room: pipes on demand, producer close everywhere, a dead host cleaned up', { timeout: 120000 }, async () => {
	const [h1, h2, h3] = hosts;
	assert.deepStrictEqual((await h1.call('state')).hosts.sort(), ['h1', 'h2', 'h3']);
	assert.match((await h3.call('state')).pick, /^http:\/\/127\.0\.0\.1\/h[123]$/);

	// A producer on host 1, viewed on hosts 2 and 3.
	const { producerId: first } = await h1.call('publish', { ssrc: 1111, durationMs: 20000 });
	assert.deepStrictEqual(await redis.hgetall('ferrosoup:room:r:producers'), { [first]: 'h1' });
	const [v2, v3] = await Promise.all([h2.call('watch', { producerId: first }), h3.call('watch', { producerId: first })]);
	assert.ok(v2.firstKeyFrameMs > 0 && v3.firstKeyFrameMs > 0, JSON.stringify({ v2, v3 }));
	// One pipe pair per pair of hosts, reused: a second viewer on host 3 adds none.
	await h3.call('watch', { producerId: first });
	assert.deepStrictEqual((await h1.call('state')).pipeHosts.sort(), ['h2', 'h3']);
	assert.deepStrictEqual((await h3.call('state')).pipeHosts, ['h1']);

	// Closing the producer on host 1 reaches the consumers on hosts 2 and 3.
	await h1.call('closeProducer', { producerId: first });
	await kit.waitFor(async () => (await h2.call('state')).closedConsumers.includes(first) && (await h3.call('state')).closedConsumers.includes(first), 10000, 'producerclose on hosts 2 and 3');
	assert.deepStrictEqual(await redis.hgetall('ferrosoup:room:r:producers'), {});

	// Another producer; host 2 dies while viewing it.
	const { producerId: second } = await h1.call('publish', { ssrc: 2222, durationMs: 30000 });
	await Promise.all([h2.call('watch', { producerId: second }), h3.call('watch', { producerId: second })]);
	h2.child.kill('SIGKILL');
	// Host 3 keeps playing (a new viewer there receives packets)...
	const counted = await h3.call('count', { producerId: second, durationMs: 1500 });
	assert.ok(counted.packets > 20, JSON.stringify(counted));
	// ...and within the expiry plus 5 s host 1 dropped host 2: no pipe, nothing in Redis.
	await kit.waitFor(async () => !(await h1.call('state')).pipeHosts.includes('h2'), EXPIRY_MS + 5000, 'host 1 closes its pipe to host 2');
	await kit.waitFor(async () => {
		const keys = await redis.keys('ferrosoup:*');
		const members = await redis.smembers('ferrosoup:hosts');
		const owners = Object.values(await redis.hgetall('ferrosoup:room:r:producers'));
		return !keys.some((k) => k.includes('h2')) && !members.includes('h2') && !owners.includes('h2');
	}, EXPIRY_MS + 5000, 'nothing of host 2 left in Redis');
	assert.deepStrictEqual((await h3.call('state')).hosts.sort(), ['h1', 'h3']);

	// Hosts leaving cleanly leave nothing behind.
	await h3.call('leave');
	await h1.call('leave');
	assert.deepStrictEqual(await redis.keys('ferrosoup:*'), []);
});
