'use strict';

// Shared by the media browser tests: a Chromium page that publishes through a ferrosoup
// transport, and a Chromium page that consumes through another.
const kit = require('./browser');

function transportParams(t) {
	return { id: t.id, iceParameters: t.iceParameters, iceCandidates: t.iceCandidates, dtlsParameters: t.dtlsParameters, sctpParameters: t.sctpParameters };
}

const UDP = { listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }] };

/**
 * Publishes the fake camera and microphone from a new page through a transport of `router`.
 * `produceOptions` go to every server `produce()` (e.g. a producer's `keyFrameCache`);
 * `clientOptions[kind]` to mediasoup-client's (e.g. `encodings`, and `capture` constraints).
 */
async function publish({ browser, url, router, kinds = ['video', 'audio'], produceOptions = {}, clientOptions = {}, transportOptions = UDP }) {
	const transport = await router.createWebRtcTransport(transportOptions);
	const producers = {};
	const page = await kit.openPage(browser, url, async (method, data) => {
		if (method === 'connect') {
			await transport.connect({ dtlsParameters: data.dtlsParameters });
			return {};
		}
		if (method === 'produce') {
			const producer = await transport.produce({ kind: data.kind, rtpParameters: data.rtpParameters, ...produceOptions });
			producers[data.kind] = producer;
			return { id: producer.id };
		}
		throw new Error(`unexpected ${method}`);
	});
	await page.evaluate((caps) => window.ferrosoupTest.loadDevice(caps), router.rtpCapabilities);
	const tid = await page.evaluate((p) => window.ferrosoupTest.createSendTransport(p), transportParams(transport));
	for (const kind of kinds) {
		await page.evaluate(({ id, kind, options }) => window.ferrosoupTest.produce(id, kind, options), { id: tid, kind, options: clientOptions[kind] });
	}
	return { transport, producers, page };
}

/**
 * Consumes `producers` (by kind) in a new page through a transport of `router`. With `paused`,
 * consumers are created paused and resumed once the page has set them up (mediasoup's pattern).
 */
async function view({ browser, url, router, producers, paused = true, transportOptions = UDP }) {
	const transport = await router.createWebRtcTransport(transportOptions);
	const page = await kit.openPage(browser, url, async (method, data) => {
		if (method === 'connect') {
			await transport.connect({ dtlsParameters: data.dtlsParameters });
			return {};
		}
		throw new Error(`unexpected ${method}`);
	});
	const rtpCapabilities = await page.evaluate((caps) => window.ferrosoupTest.loadDevice(caps), router.rtpCapabilities);
	const tid = await page.evaluate((p) => window.ferrosoupTest.createRecvTransport(p), transportParams(transport));
	const consumers = {};
	for (const [kind, producer] of Object.entries(producers)) {
		const consumer = await transport.consume({ producerId: producer.id, rtpCapabilities, paused });
		await page.evaluate(
			({ tid, params }) => window.ferrosoupTest.consume(tid, params),
			{ tid, params: { id: consumer.id, producerId: producer.id, kind: consumer.kind, rtpParameters: consumer.rtpParameters } }
		);
		if (paused) await consumer.resume();
		consumers[kind] = consumer;
	}
	const received = (kind) => page.evaluate((id) => window.ferrosoupTest.received(id), consumers[kind].id);
	return { transport, consumers, page, received, rtpCapabilities };
}

/**
 * `count` viewers of `producer` in one page (one renderer, one PeerConnection each): a recv
 * transport per viewer from `transportOptions(i)`, consuming paused, then resumed.
 */
async function viewMany({ browser, url, router, producer, count, transportOptions }) {
	const transports = new Map();
	const page = await kit.openPage(browser, url, async (method, data) => {
		if (method === 'connect') {
			await transports.get(data.transportId).connect({ dtlsParameters: data.dtlsParameters });
			return {};
		}
		throw new Error(`unexpected ${method}`);
	});
	const rtpCapabilities = await page.evaluate((caps) => window.ferrosoupTest.loadDevice(caps), router.rtpCapabilities);
	const viewers = [];
	for (let i = 0; i < count; i++) {
		const transport = await router.createWebRtcTransport(transportOptions(i));
		transports.set(transport.id, transport);
		const tid = await page.evaluate((p) => window.ferrosoupTest.createRecvTransport(p), transportParams(transport));
		const consumer = await transport.consume({ producerId: producer.id, rtpCapabilities, paused: true });
		await page.evaluate(
			({ tid, params }) => window.ferrosoupTest.consume(tid, params),
			{ tid, params: { id: consumer.id, producerId: producer.id, kind: consumer.kind, rtpParameters: consumer.rtpParameters } }
		);
		await consumer.resume();
		viewers.push({ transport, consumer, received: () => page.evaluate((id) => window.ferrosoupTest.received(id), consumer.id) });
	}
	return { page, viewers };
}

module.exports = { transportParams, publish, view, viewMany, UDP };
