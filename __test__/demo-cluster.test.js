'use strict';

// The room demo as a cluster: two demo processes' worth of servers (two hosts) on one Redis.
// A Chromium broadcaster on host A is watched by a Chromium viewer on host B; the page shows
// its host and the room's peers per host (socket.io's Redis adapter); each host serves
// Prometheus metrics; GET /go sends a new client to a live host.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const kit = require('./lib/browser');
const { startRedis } = require('./lib/redis');
const { start } = require('../examples/room/server.js');

let redis;
let a;
let b;
let browser;

before(async () => {
	redis = await startRedis();
	a = await start({ port: 0, workers: 1, redisUrl: redis.url, hostId: 'A' });
	b = await start({ port: 0, workers: 1, redisUrl: redis.url, hostId: 'B' });
	browser = await kit.launchBrowser();
});

after(async () => {
	await browser?.close();
	await a?.close();
	await b?.close();
	redis?.stop();
});

async function openPage(url) {
	const page = await (await browser.newContext()).newPage();
	page.on('pageerror', (e) => console.error('[page error]', e.message));
	await page.goto(url);
	await page.waitForFunction(() => Boolean(window.roomDemo));
	return page;
}

test('a broadcaster on host A is watched from host B', { timeout: 90000 }, async () => {
	const broadcaster = await openPage(a.url);
	await broadcaster.evaluate(() => window.roomDemo.broadcast('c-room'));
	const viewer = await openPage(b.url);
	const r = await viewer.evaluate(() => window.roomDemo.watch('c-room', 'viewer'));
	assert.ok(r.loadMs > 0 && r.loadMs < 30000, `load ${r.loadMs}`);
	// The page knows its host and hears both hosts' peer counts.
	await kit.waitFor(async () => {
		const hosts = await viewer.evaluate(() => window.roomDemo.hosts());
		return hosts.A === 1 && hosts.B === 1;
	}, 10000, 'peers per host on the viewer page');
	assert.match(await viewer.textContent('#host'), /host B/);
	// Prometheus text on both hosts: B has the viewer's consumers and a pipe link to A.
	const text = await (await fetch(`${b.url}metrics`)).text();
	assert.match(text, /^ferrosoup_consumers 2$/m);
	assert.match(text, /^ferrosoup_pipe_links\{host="A"\} 1$/m);
	assert.match(text, /^ferrosoup_join_seconds_count 1$/m);
	assert.match(text, /^ferrosoup_worker_cpu_seconds\{worker="0"\} [0-9.]+$/m);
	assert.match(await (await fetch(`${a.url}metrics`)).text(), /^ferrosoup_producers 2$/m);
	// A new client is sent to a live host.
	const go = await fetch(`${a.url}go?room=c-room&role=watch`, { redirect: 'manual' });
	assert.equal(go.status, 302);
	assert.match(go.headers.get('location'), new RegExp(`^(${a.url}|${b.url})\\?room=c-room&role=watch$`));
	for (const p of [viewer, broadcaster]) {
		await p.evaluate(() => window.roomDemo.exit());
		await p.context().close();
	}
	await kit.waitFor(() => a.rooms.size === 0 && b.rooms.size === 0, 10000, 'rooms closed on both hosts');
	assert.deepStrictEqual(await redis.client.hgetall('ferrosoup:room:c-room:producers'), {});
});
