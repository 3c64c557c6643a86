'use strict';

// The room demo end to end: one Chromium broadcaster, a few Chromium viewers joining with the
// 8-message flow; first frames arrive; exitRoom and disconnect leave no transport or port.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const dgram = require('node:dgram');
const { once } = require('node:events');
const kit = require('./lib/browser');
const { start } = require('../examples/room/server.js');

let server;
let browser;
const ports = [];

before(async () => {
	server = await start({ port: 0, workers: 2 });
	// Remember every transport's port to check they are all released.
	for (const worker of server.workers) {
		worker.observer.on('newrouter', (router) =>
			router.observer.on('newtransport', (t) => ports.push(...t.iceCandidates.map((c) => c.port))));
	}
	browser = await kit.launchBrowser();
});

after(async () => {
	await browser?.close();
	await server?.close();
});

async function openRoomPage() {
	const context = await browser.newContext();
	const page = await context.newPage();
	page.on('pageerror', (e) => console.error('[page error]', e.message));
	await page.goto(server.url);
	await page.waitForFunction(() => Boolean(window.roomDemo));
	return page;
}

function portFree(port) {
	return new Promise((resolve) => {
		const s = dgram.createSocket('udp4');
		s.once('error', () => resolve(false));
		s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
	});
}

test('broadcaster + 3 viewers: first frames, 8 messages each, clean exit', async () => {
	const broadcaster = await openRoomPage();
	await broadcaster.evaluate(() => window.roomDemo.broadcast('ci-room'));
	const viewers = await Promise.all([1, 2, 3].map(() => openRoomPage()));
	const results = await Promise.all(viewers.map((p, i) => p.evaluate((n) => window.roomDemo.watch('ci-room', `viewer-${n}`), i)));
	for (const r of results) {
		assert.ok(r.loadMs > 0 && r.loadMs < 20000, `load time ${r.loadMs}`);
		const events = r.replies.map((x) => x.event).sort();
		assert.deepStrictEqual(events, ['connectTransport', 'consume', 'consume', 'createRoom', 'createWebRtcTransport', 'getProducers', 'getRouterRtpCapabilities', 'join']);
	}
	// Every handler answered; the server recorded them.
	const { handlers } = server.metrics.snapshot();
	assert.equal(handlers.consume.length, 6);
	assert.equal(server.rooms.get('ci-room').peers.size, 4);
	assert.equal(await server.countTransports(), 4);

	// Two viewers leave with exitRoom, one just goes away (disconnect).
	await viewers[0].evaluate(() => window.roomDemo.exit());
	await viewers[1].evaluate(() => window.roomDemo.exit());
	await viewers[2].context().close();
	await kit.waitFor(async () => (await server.countTransports()) === 1, 10000, 'viewer transports closed');
	await broadcaster.evaluate(() => window.roomDemo.exit());
	await kit.waitFor(() => server.rooms.size === 0, 10000, 'room closed');
	for (const w of server.workers) {
		assert.deepStrictEqual((await w.dump()).routerIds, []);
	}
	// Every transport used its worker's WebRtcServer (UDP and TCP); the servers hold none now.
	assert.equal(ports.length, 4 * 2);
	const serverPorts = new Set();
	for (const s of server.webRtcServers.values()) {
		const d = await s.dump();
		assert.deepStrictEqual(d.webRtcTransportIds, []);
		assert.deepStrictEqual(d.localIceUsernameFragments, []);
		for (const x of [...d.udpSockets, ...d.tcpServers]) serverPorts.add(x.port);
	}
	for (const port of ports) assert.ok(serverPorts.has(port), `port ${port} is not a server's`);
	await broadcaster.context().close();
	for (const v of viewers.slice(0, 2)) await v.context().close();
});

test('native viewers (Rust ICE/DTLS/SRTP, socket.io from Node) reach a complete key frame', async () => {
	const { nativeJoin, leave } = require('../benchmark/lib/native-viewer');
	const broadcaster = await openRoomPage();
	await broadcaster.evaluate(() => window.roomDemo.broadcast('native-room'));
	const results = await Promise.all([1, 2, 3, 4, 5].map((i) => nativeJoin(server.url, 'native-room', { name: `n${i}` })));
	for (const r of results) {
		assert.ok(r.native.iceMs > 0 && r.native.dtlsMs >= r.native.iceMs, JSON.stringify(r.native));
		assert.ok(r.native.firstKeyFrameMs >= r.native.dtlsMs);
		assert.equal(r.replies.length, 8);
	}
	await Promise.all(results.map((r) => leave(r, 'native-room')));
	await kit.waitFor(async () => (await server.countTransports()) === 1, 10000, 'native viewers gone');
	await broadcaster.evaluate(() => window.roomDemo.exit());
	await broadcaster.context().close();
});

test('chat over DataChannels: each page\'s messages reach every page, named, in order', async () => {
	const [alice, bob] = await Promise.all([openRoomPage(), openRoomPage()]);
	// Bob watches a broadcast first, then chats in the same room (one join, one device).
	const broadcaster = await openRoomPage();
	await broadcaster.evaluate(() => window.roomDemo.broadcast('chat-room'));
	await bob.evaluate(() => window.roomDemo.watch('chat-room', 'bob'));
	await alice.evaluate(() => window.roomDemo.chat('chat-room', 'alice'));
	await bob.evaluate(() => window.roomDemo.chat('chat-room', 'bob'));
	const lines = ['hi bob', 'ünïcode ✓', 'x'.repeat(1000)];
	for (const text of lines) await alice.evaluate((t) => window.roomDemo.say(t), text);
	await bob.evaluate(() => window.roomDemo.say('hi alice'));
	const expected = [...lines.map((text) => ({ from: 'alice', text })), { from: 'bob', text: 'hi alice' }];
	for (const page of [alice, bob]) {
		await kit.waitFor(async () => (await page.evaluate(() => window.roomDemo.chatMessages())).length >= 4, 20000, 'chat messages');
		assert.deepStrictEqual(await page.evaluate(() => window.roomDemo.chatMessages()), expected);
	}
	// Over 1 KiB the bot does not relay.
	await alice.evaluate(() => window.roomDemo.say('y'.repeat(2000)));
	await alice.evaluate(() => window.roomDemo.say('last'));
	await kit.waitFor(async () => (await bob.evaluate(() => window.roomDemo.chatMessages())).length >= 5, 20000, 'last message');
	assert.deepStrictEqual((await bob.evaluate(() => window.roomDemo.chatMessages())).at(-1), { from: 'alice', text: 'last' });
	assert.equal((await bob.evaluate(() => window.roomDemo.chatMessages())).length, 5);
	for (const page of [alice, bob, broadcaster]) {
		await page.evaluate(() => window.roomDemo.exit());
		await page.context().close();
	}
	await kit.waitFor(() => server.rooms.size === 0, 10000, 'room closed');
	for (const w of server.workers) assert.deepStrictEqual((await w.dump()).routerIds, []);
});

test('closing the demo closes its WebRtcServers and frees their ports', async () => {
	const serverPorts = [];
	for (const s of server.webRtcServers.values()) serverPorts.push(...(await s.dump()).udpSockets.map((x) => x.port));
	assert.equal(serverPorts.length, server.workers.length);
	// The threads end (and drop their sockets) after close(): wait for that.
	const ended = server.workers.map((w) => once(w, 'subprocessclose'));
	await server.close();
	await Promise.all(ended);
	for (const s of server.webRtcServers.values()) assert.equal(s.closed, true);
	for (const port of serverPorts) assert.ok(await portFree(port), `port ${port} still bound`);
	server = undefined;
});
