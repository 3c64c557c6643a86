'use strict';

// The other end of a PipeTransport test: a separate Node process with its own ferrosoup worker
// and router. It obeys the parent's IPC messages ({ id, cmd, ... }) and answers { id, result }
// or { id, error }.
const ferrosoup = require('../..');
const codecs = require('./codecs');

const UDP = { listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }] };
const state = {};

const commands = {
	async setup({ enableSrtp, enableRtx, enableSctp }) {
		state.worker = await ferrosoup.createWorker({ rtcMinPort: 46000, rtcMaxPort: 46999 });
		state.router = await state.worker.createRouter({ mediaCodecs: codecs.opusVp8 });
		state.pipe = await state.router.createPipeTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, enableSrtp, enableRtx, enableSctp });
		return { tuple: state.pipe.tuple, srtpParameters: state.pipe.srtpParameters, sctpParameters: state.pipe.sctpParameters };
	},
	/** A pipe DataProducer fed by the other process, and a DirectTransport consumer recording it. */
	async produceData({ id, sctpStreamParameters, label }) {
		state.dataProducer = await state.pipe.produceData({ id, sctpStreamParameters, label });
		const direct = await state.router.createDirectTransport();
		const dc = await direct.consumeData({ dataProducerId: id });
		state.messages = [];
		dc.on('message', (data, ppid) => state.messages.push({ text: data.toString('latin1'), ppid }));
		return { label: state.dataProducer.label };
	},
	/** A DirectTransport DataProducer here, consumed by the pipe (towards the other process). */
	async sendBack({ messages }) {
		const direct = await state.router.createDirectTransport();
		const dp = await direct.produceData({ label: 'back' });
		const dc = await state.pipe.consumeData({ dataProducerId: dp.id });
		state.back = dp;
		return { id: dp.id, sctpStreamParameters: dc.sctpStreamParameters, messages };
	},
	async sendNow({ messages }) {
		for (const m of messages) state.back.send(m);
		return null;
	},
	async dataStats() {
		return { messages: state.messages, sctpState: state.pipe.sctpState };
	},
	async connect(params) {
		await state.pipe.connect(params);
		return { tuple: state.pipe.tuple };
	},
	async produce({ id, kind, rtpParameters, viewerDtlsParameters }) {
		state.producer = await state.pipe.produce({ id, kind, rtpParameters });
		state.viewer = await state.router.createWebRtcTransport(UDP);
		state.consumer = await state.viewer.consume({ producerId: state.producer.id, rtpCapabilities: state.router.rtpCapabilities });
		// The viewer runs in the parent process, with that process's client certificate.
		await state.viewer.connect({ dtlsParameters: viewerDtlsParameters });
		return {
			producerType: state.producer.type,
			iceParameters: state.viewer.iceParameters,
			iceCandidates: state.viewer.iceCandidates,
			dtlsParameters: state.viewer.dtlsParameters,
			ssrc: state.consumer.rtpParameters.encodings[0].ssrc,
		};
	},
	async stats() {
		const [producer] = await state.producer.getStats();
		const [pipe] = await state.pipe.getStats();
		return { producerPackets: producer?.packetCount ?? 0, pipe, dump: await state.pipe.dump() };
	},
	async close() {
		state.worker?.close();
		setImmediate(() => process.exit(0));
		return null;
	},
};

process.on('message', async ({ id, cmd, args }) => {
	try {
		process.send({ id, result: await commands[cmd](args ?? {}) });
	} catch (error) {
		process.send({ id, error: { name: error.name, message: error.message } });
	}
});
