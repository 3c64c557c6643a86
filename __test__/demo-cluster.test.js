'use strict';

// The room demo as a cluster: two demo server processes (two hosts) on one Redis, started as
// an operator would (`REDIS_URL=… HOST_ID=… PORT=… npm start`). A Chromium broadcaster on host A
// is watched by a Chromium viewer on host B; the page shows its host and the room's peers per
// host (socket.io's Redis adapter); each host serves Prometheus metrics; GET /go sends a new
// client to a live host.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const path = require('node:path');
const kit = require('./lib/browser');
const { startRedis } = require('./lib/redis');

let redis;
let a;
let b;
let browser;

/** One demo process; resolves with its URL once it listens. */
function startDemo(hostId) {
	const child = spawn(process.execPath, [path.join(__dirname, '..', 'examples', 'room', 'server.js')], {
		env: { ...process.env, REDIS_URL: redis.url, HOST_ID: hostId, PORT: '0', WORKERS: '1' },
		stdio: ['ignore', 'pipe', 'inherit'],
	});
	return new Promise((resolve, reject) => {
		let out = '';
		child.stdout.on('data', (d) => {
			out += d;
			const m = /at (http:\/\/\S+)/.exec(out);
			if (m) resolve({ child, url: m[1] });
		});
		child.once('exit', (code) => reject(new Error(`demo ${hostId} exited with ${code}: ${out}`)));
	});
}

async function stats(host) {
	return (await fetch(`${host.url}stats`)).json();
}

before(async () => {
	redis = await startRedis();
	a = await startDemo('A');
	b = await startDemo('B');
	browser = await kit.launchBrowser();
});

after(async () => {
	await browser?.close();
	for (const h of [a, b]) h?.child.kill('SIGTERM');
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
	await kit.waitFor(async () => (await stats(a)).rooms === 0 && (await stats(b)).rooms === 0, 10000, 'rooms closed on both hosts');
	assert.deepStrictEqual(await redis.client.hgetall('ferrosoup:room:c-room:producers'), {});
});
