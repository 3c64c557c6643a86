'use strict';

// The other end of a PipeTransport test: a separate Node process with its own ferrosoup worker
// and router. It obeys the parent's IPC messages ({ id, cmd, ... }) and answers { id, result }
// or { id, error }.
const ferrosoup = require('../..');
const codecs = require('./codecs');

const UDP = { listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }] };
const state = {};

const commands = {
	async setup({ enableSrtp, enableRtx }) {
		state.worker = await ferrosoup.createWorker({ rtcMinPort: 46000, rtcMaxPort: 46999 });
		state.router = await state.worker.createRouter({ mediaCodecs: codecs.opusVp8 });
		state.pipe = await state.router.createPipeTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, enableSrtp, enableRtx });
		return { tuple: state.pipe.tuple, srtpParameters: state.pipe.srtpParameters };
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
