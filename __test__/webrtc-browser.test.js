'use strict';

// Real Chromium + mediasoup-client against ferrosoup WebRtcTransports on 127.0.0.1.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const ferrosoup = require('..');
const kit = require('./lib/browser');
const codecs = require('./lib/codecs');

let worker;
let router;
let pages;
let browser;

before(async () => {
	worker = await ferrosoup.createWorker({ rtcMinPort: 41000, rtcMaxPort: 41999 });
	router = await worker.createRouter({ mediaCodecs: codecs.opusVp8 });
	pages = await kit.startPageServer();
	browser = await kit.launchBrowser();
});

after(async () => {
	await browser?.close();
	await pages?.close();
	worker?.close();
});

function recordStates(transport) {
	const seen = { ice: [], dtls: [], tuples: [] };
	transport.on('icestatechange', (s) => seen.ice.push(s));
	transport.on('dtlsstatechange', (s) => seen.dtls.push(s));
	transport.on('iceselectedtuplechange', (t) => seen.tuples.push(t));
	return seen;
}

/** Opens a page whose send transport talks to `transport`; produces the fake camera. */
async function publish(transport, { fingerprints } = {}) {
	const page = await kit.openPage(browser, pages.url, async (method, data) => {
		if (method === 'connect') {
			const dtlsParameters = fingerprints ? { ...data.dtlsParameters, fingerprints } : data.dtlsParameters;
			await transport.connect({ dtlsParameters });
			return {};
		}
		if (method === 'produce') {
			// Producers come with the next layer: answer with a placeholder id.
			return { id: `placeholder-${data.kind}` };
		}
		throw new Error(`unexpected ${method}`);
	});
	await page.evaluate((caps) => window.ferrosoupTest.loadDevice(caps), router.rtpCapabilities);
	const clientTransportId = await page.evaluate((params) => window.ferrosoupTest.createSendTransport(params), {
		id: transport.id,
		iceParameters: transport.iceParameters,
		iceCandidates: transport.iceCandidates,
		dtlsParameters: transport.dtlsParameters,
	});
	// produce() resolves once connected; with a bad fingerprint it never does, so don't wait.
	const produced = page.evaluate((id) => window.ferrosoupTest.produce(id, 'video'), clientTransportId);
	produced.catch(() => {});
	return { page, clientTransportId, produced };
}

test('Chromium connects over UDP: ICE completed, DTLS connected, SRTP arrives', async () => {
	const newTransports = [];
	router.observer.once('newtransport', (t) => newTransports.push(t));
	const transport = await router.createWebRtcTransport({ listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }] });
	assert.deepStrictEqual(newTransports, [transport]);
	const seen = recordStates(transport);
	const { page, produced } = await publish(transport);
	await kit.waitFor(() => transport.iceState === 'completed' && transport.dtlsState === 'connected', 15000, 'ICE completed and DTLS connected');
	assert.equal(await produced, 'placeholder-video');
	assert.deepStrictEqual(seen.dtls, ['connecting', 'connected']);
	assert.ok(seen.ice.includes('connected') || seen.ice[0] === 'completed', seen.ice.join());
	assert.equal(seen.ice.at(-1), 'completed');
	assert.equal(transport.dtlsParameters.role, 'server');
	assert.match(transport.dtlsRemoteCert, /^-----BEGIN CERTIFICATE-----/);
	const tuple = transport.iceSelectedTuple;
	assert.equal(tuple.protocol, 'udp');
	assert.equal(tuple.localAddress, '127.0.0.1');
	assert.equal(tuple.localPort, transport.iceCandidates[0].port);
	// Chromium may send from any of this machine's addresses (to our 127.0.0.1 candidate).
	const localIps = Object.values(require('node:os').networkInterfaces()).flat().map((i) => i.address);
	assert.ok(localIps.includes(tuple.remoteIp), tuple.remoteIp);
	assert.ok(tuple.remotePort > 0);
	// Chromium's SRTP video is decrypted by the worker (counted in the transport stats).
	await kit.waitFor(async () => (await transport.getStats())[0].rtpBytesReceived > 10000, 15000, 'SRTP media');
	const [stats] = await transport.getStats();
	assert.equal(stats.iceState, 'completed');
	assert.equal(stats.dtlsState, 'connected');
	assert.ok(stats.recvBitrate > 0);
	assert.ok(stats.bytesSent > 0);
	// The browser agrees.
	const states = await page.evaluate((id) => window.ferrosoupTest.connectionStates(id), transport.id);
	assert.ok(states.includes('connected'), states.join());
	transport.close();
	assert.equal(transport.iceState, 'closed');
	assert.equal(transport.dtlsState, 'closed');
	await page.close();
});

test('a wrong fingerprint in connect() ends in dtlsState failed and no media', async () => {
	const transport = await router.createWebRtcTransport({ listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }] });
	const seen = recordStates(transport);
	const wrong = [{ algorithm: 'sha-256', value: Array.from({ length: 32 }, () => 'AB').join(':') }];
	const { page } = await publish(transport, { fingerprints: wrong });
	await kit.waitFor(() => transport.dtlsState === 'failed', 20000, 'DTLS failed');
	assert.deepStrictEqual(seen.dtls, ['connecting', 'failed']);
	assert.equal(transport.dtlsRemoteCert, undefined);
	const [stats] = await transport.getStats();
	assert.equal(stats.rtpBytesReceived, 0);
	transport.close();
	await page.close();
});

test('Chromium connects over TCP (RFC 4571 framing) when only a TCP candidate is offered', async () => {
	const transport = await router.createWebRtcTransport({ listenInfos: [{ protocol: 'tcp', ip: '127.0.0.1' }] });
	assert.equal(transport.iceCandidates[0].tcpType, 'passive');
	const { page } = await publish(transport);
	await kit.waitFor(() => transport.dtlsState === 'connected', 20000, 'DTLS connected over TCP');
	assert.equal(transport.iceSelectedTuple.protocol, 'tcp');
	await kit.waitFor(async () => (await transport.getStats())[0].rtpBytesReceived > 0, 15000, 'SRTP over TCP');
	transport.close();
	await page.close();
});
