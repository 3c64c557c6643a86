// Runs in Chromium: mediasoup-client driven by the tests through window.ferrosoupTest. Server
// calls go through window.serverRequest(method, data), which the test exposes from Node.
import { Device } from 'mediasoup-client';

const state = { device: undefined, transports: new Map(), producers: new Map(), consumers: new Map(), streams: [], tones: new Map(), dataProducers: new Map(), dataConsumers: new Map(), received: new Map() };

/** A short fingerprint of a message (length and a checksum), to compare without shipping it. */
function digest(data) {
	const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : new Uint8Array(data);
	let sum = 0;
	for (let i = 0; i < bytes.length; i++) sum = (sum * 31 + bytes[i]) >>> 0;
	return { type: typeof data === 'string' ? 'string' : 'binary', length: bytes.length, sum };
}

/** Deterministic test payloads: `size` bytes (binary) or characters (text). */
function payload(kind, size, seed) {
	if (kind === 'string') {
		let s = '';
		for (let i = 0; i < size; i++) s += String.fromCharCode(97 + ((i + seed) % 26));
		return s;
	}
	const b = new Uint8Array(size);
	for (let i = 0; i < size; i++) b[i] = (i * 7 + seed) & 0xff;
	return b.buffer;
}

async function request(method, data) {
	const reply = await window.serverRequest(method, data);
	if (reply && reply.error) {
		throw new Error(reply.error);
	}
	return reply;
}

function wireTransport(transport) {
	transport.on('connect', ({ dtlsParameters }, callback, errback) => {
		request('connect', { transportId: transport.id, dtlsParameters }).then(() => callback(), errback);
	});
	transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
		request('produce', { transportId: transport.id, kind, rtpParameters, appData }).then(({ id }) => callback({ id }), errback);
	});
	transport.on('producedata', ({ sctpStreamParameters, label, protocol, appData }, callback, errback) => {
		request('produceData', { transportId: transport.id, sctpStreamParameters, label, protocol, appData }).then(({ id }) => callback({ id }), errback);
	});
	transport.on('connectionstatechange', (s) => {
		transport.appData.states = [...(transport.appData.states ?? []), s];
	});
	state.transports.set(transport.id, transport);
	return transport.id;
}

window.ferrosoupTest = {
	async loadDevice(routerRtpCapabilities) {
		state.device = new Device();
		await state.device.load({ routerRtpCapabilities });
		return state.device.rtpCapabilities;
	},
	rtpCapabilities() {
		return state.device.rtpCapabilities;
	},
	createSendTransport(params) {
		return wireTransport(state.device.createSendTransport(params));
	},
	createRecvTransport(params) {
		return wireTransport(state.device.createRecvTransport(params));
	},
	connectionStates(transportId) {
		return state.transports.get(transportId).appData.states ?? [];
	},
	/** Produces the fake camera ('video') or microphone ('audio'); returns the producer id. */
	async produce(transportId, kind, { capture, ...options } = {}) {
		const stream = await navigator.mediaDevices.getUserMedia(
			kind === 'video' ? { video: { width: 640, height: 360, frameRate: 30, ...capture } } : { audio: true }
		);
		state.streams.push(stream);
		const track = kind === 'video' ? stream.getVideoTracks()[0] : stream.getAudioTracks()[0];
		const producer = await state.transports.get(transportId).produce({ track, ...options });
		state.producers.set(producer.id, producer);
		return producer.id;
	},
	/**
	 * Produces a 440 Hz tone made with WebAudio at `gain` (no capture device, no audio
	 * processing: its RFC 6464 level is about 3 - 20·log10(gain) dB below full scale).
	 */
	async produceTone(transportId, gain) {
		const ctx = new AudioContext();
		const osc = ctx.createOscillator();
		osc.frequency.value = 440;
		const amp = ctx.createGain();
		amp.gain.value = gain;
		const dest = ctx.createMediaStreamDestination();
		osc.connect(amp).connect(dest);
		osc.start();
		const producer = await state.transports.get(transportId).produce({ track: dest.stream.getAudioTracks()[0] });
		state.producers.set(producer.id, producer);
		state.tones.set(producer.id, { ctx, amp });
		return producer.id;
	},
	setGain(producerId, gain) {
		const { ctx, amp } = state.tones.get(producerId);
		amp.gain.setValueAtTime(gain, ctx.currentTime);
	},
	/** A DataChannel on the send transport; resolves (with the producer id) once it is open. */
	async produceData(transportId, options = {}) {
		const dp = await state.transports.get(transportId).produceData(options);
		state.dataProducers.set(dp.id, dp);
		if (dp.readyState !== 'open') await new Promise((resolve) => dp.on('open', resolve));
		return dp.id;
	},
	/** Sends messages ([{ kind: 'string' | 'binary', size, seed }]); their digests. */
	async sendData(dataProducerId, messages) {
		const dp = state.dataProducers.get(dataProducerId);
		const sent = [];
		for (const m of messages) {
			const data = payload(m.kind, m.size, m.seed);
			// Wait for room rather than overflowing the channel's buffer.
			while (dp.bufferedAmount > 1_000_000) await new Promise((r) => setTimeout(r, 10));
			dp.send(data);
			sent.push(digest(data));
		}
		return sent;
	},
	/** A DataChannel for a server DataConsumer; its messages are recorded as digests. */
	async consumeData(transportId, params) {
		const dc = await state.transports.get(transportId).consumeData(params);
		dc.binaryType = 'arraybuffer';
		state.dataConsumers.set(dc.id, dc);
		state.received.set(dc.id, []);
		dc.on('message', (data) => state.received.get(dc.id).push(digest(data)));
		if (dc.readyState !== 'open') await new Promise((resolve) => dc.on('open', resolve));
		return dc.id;
	},
	dataReceived(dataConsumerId) {
		return state.received.get(dataConsumerId) ?? [];
	},
	/** Consumes and plays the track (a sink makes Chromium decode it). */
	async consume(transportId, params) {
		const consumer = await state.transports.get(transportId).consume(params);
		state.consumers.set(consumer.id, consumer);
		const el = document.createElement(consumer.kind);
		el.muted = true;
		el.autoplay = true;
		el.playsInline = true;
		el.srcObject = new MediaStream([consumer.track]);
		document.body.appendChild(el);
		el.play().catch(() => {});
		return consumer.id;
	},
	/** Inbound RTP numbers of a consumer: frames decoded (video) or samples received (audio). */
	async received(consumerId) {
		const report = await state.consumers.get(consumerId).getStats();
		for (const s of report.values()) {
			if (s.type === 'inbound-rtp') {
				return {
					packetsReceived: s.packetsReceived ?? 0,
					framesDecoded: s.framesDecoded ?? 0,
					frameWidth: s.frameWidth ?? 0,
					frameHeight: s.frameHeight ?? 0,
					freezeCount: s.freezeCount ?? 0,
					totalSamplesReceived: s.totalSamplesReceived ?? 0,
					keyFramesDecoded: s.keyFramesDecoded ?? 0,
				};
			}
		}
		return { packetsReceived: 0, framesDecoded: 0, totalSamplesReceived: 0, keyFramesDecoded: 0 };
	},
	async stats(kind, id) {
		const map = kind === 'producer' ? state.producers : kind === 'consumer' ? state.consumers : state.transports;
		const report = await map.get(id).getStats();
		return [...report.values()];
	},
	closeAll() {
		for (const t of state.transports.values()) t.close();
		for (const s of state.streams) for (const track of s.getTracks()) track.stop();
	},
};
