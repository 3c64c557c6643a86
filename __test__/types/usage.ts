// An app's use of mediasoup's API, written against the `mediasoup` package's types. `npm test`
// compiles it twice with `tsc --strict`: once with `mediasoup` resolved to mediasoup 3.27.1's
// own declarations, once to ferrosoup's index.d.ts. Both must compile.
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';

type PeerData = { peerId: string; displayName?: string };

const mediaCodecs: types.RouterRtpCodecCapability[] = [
	{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
	{ kind: 'video', mimeType: 'video/VP8', clockRate: 90000, parameters: { 'x-google-start-bitrate': 1000 } },
	{ kind: 'video', mimeType: 'video/VP9', clockRate: 90000, parameters: { 'profile-id': 2 } },
];

export async function room(): Promise<void> {
	const version: string = mediasoup.version;
	void version;
	mediasoup.observer.on('newworker', (worker: types.Worker) => void worker.pid);
	mediasoup.setLogEventListeners({ onwarn: (namespace: string, log: string) => console.warn(namespace, log) });
	const caps: types.RouterRtpCapabilities = mediasoup.getSupportedRtpCapabilities();
	void caps.codecs?.length;
	const mode: types.ScalabilityMode = mediasoup.parseScalabilityMode('L3T3_KEY');
	void [mode.spatialLayers, mode.temporalLayers, mode.ksvc];

	const worker: types.Worker<{ index: number }> = await mediasoup.createWorker<{ index: number }>({
		logLevel: 'warn',
		logTags: ['info', 'ice', 'dtls', 'rtp', 'srtp', 'rtcp', 'rtx', 'bwe', 'score', 'simulcast', 'svc', 'sctp'],
		rtcMinPort: 40000,
		rtcMaxPort: 49999,
		appData: { index: 0 },
	});
	worker.on('died', (error: Error) => console.error(error));
	worker.observer.on('close', () => undefined);
	worker.observer.on('newrouter', (router: types.Router) => void router.id);
	worker.observer.on('newwebrtcserver', (server: types.WebRtcServer) => void server.id);
	const usage: types.WorkerResourceUsage = await worker.getResourceUsage();
	void usage.ru_utime;
	await worker.updateSettings({ logLevel: 'debug', logTags: ['ice'] });
	void (await worker.dump());
	void worker.appData.index;

	const webRtcServer: types.WebRtcServer = await worker.createWebRtcServer({
		listenInfos: [
			{ protocol: 'udp', ip: '0.0.0.0', announcedAddress: '203.0.113.1', port: 44444 },
			{ protocol: 'tcp', ip: '0.0.0.0', announcedAddress: '203.0.113.1', port: 44444 },
		],
	});
	webRtcServer.observer.on('webrtctransporthandled', (t: types.WebRtcTransport) => void t.id);
	void (await webRtcServer.dump());

	const router: types.Router = await worker.createRouter({ mediaCodecs, appData: { room: 'a' } });
	router.observer.on('newtransport', (t: types.Transport) => void t.id);
	router.observer.on('newrtpobserver', (o: types.RtpObserver) => void o.id);
	const rtpCapabilities: types.RtpCapabilities = router.rtpCapabilities;

	// A WebRTC peer (on the server's ports), with DataChannels.
	const transport: types.WebRtcTransport<PeerData> = await router.createWebRtcTransport<PeerData>({
		webRtcServer,
		enableUdp: true,
		enableTcp: true,
		preferUdp: true,
		enableSctp: true,
		maxSendMessageSize: 262144,
		maxReceiveMessageSize: 262144,
		sctpSendBufferSize: 262144,
		initialAvailableOutgoingBitrate: 1_000_000,
		appData: { peerId: 'p1' },
	});
	const params: { iceParameters: types.IceParameters; iceCandidates: types.IceCandidate[]; dtlsParameters: types.DtlsParameters; sctpParameters?: types.SctpParameters } = {
		iceParameters: transport.iceParameters,
		iceCandidates: transport.iceCandidates,
		dtlsParameters: transport.dtlsParameters,
		sctpParameters: transport.sctpParameters,
	};
	void params;
	transport.on('dtlsstatechange', (state: types.DtlsState) => {
		if (state === 'closed') transport.close();
	});
	transport.on('icestatechange', (state: types.IceState) => void state);
	transport.on('sctpstatechange', (state: types.SctpState) => void state);
	transport.on('trace', (trace: types.TransportTraceEventData) => void trace.type);
	transport.observer.on('newproducer', (p: types.Producer) => void p.id);
	await transport.enableTraceEvent(['bwe', 'probation']);
	await transport.setMaxIncomingBitrate(1_500_000);
	await transport.setMaxOutgoingBitrate(3_000_000);
	await transport.connect({ dtlsParameters: { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: 'AA' }] } });
	const stats: types.WebRtcTransportStat[] = await transport.getStats();
	void stats[0]?.availableOutgoingBitrate;
	const iceParameters: types.IceParameters = await transport.restartIce();
	void iceParameters.usernameFragment;
	void transport.appData.peerId;

	// Producing with simulcast, consuming with preferred layers.
	const rtpParameters: types.RtpParameters = {
		mid: '0',
		codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }] }],
		headerExtensions: [{ uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 1 }],
		encodings: [
			{ rid: 'r0', scalabilityMode: 'L1T3', maxBitrate: 150_000 },
			{ rid: 'r1', scalabilityMode: 'L1T3', maxBitrate: 500_000 },
			{ rid: 'r2', scalabilityMode: 'L1T3', maxBitrate: 1_500_000 },
		],
		rtcp: { cname: 'c' },
	};
	const producer: types.Producer<PeerData> = await transport.produce<PeerData>({ kind: 'video', rtpParameters, appData: { peerId: 'p1' } });
	producer.on('score', (score: types.ProducerScore[]) => void score[0]?.encodingIdx);
	producer.on('videoorientationchange', (o: types.ProducerVideoOrientation) => void o.rotation);
	producer.on('transportclose', () => undefined);
	producer.observer.on('pause', () => undefined);
	await producer.enableTraceEvent(['keyframe', 'pli']);
	const producerType: types.ProducerType = producer.type;
	void producerType;
	if (router.canConsume({ producerId: producer.id, rtpCapabilities })) {
		const consumer: types.Consumer = await transport.consume({
			producerId: producer.id,
			rtpCapabilities,
			paused: true,
			preferredLayers: { spatialLayer: 1 },
		});
		consumer.on('layerschange', (layers?: types.ConsumerLayers) => void layers?.spatialLayer);
		consumer.on('score', (score: types.ConsumerScore) => void score.producerScores);
		consumer.on('producerclose', () => consumer.close());
		consumer.on('trace', (trace: types.ConsumerTraceEventData) => void trace.info);
		await consumer.setPreferredLayers({ spatialLayer: 2, temporalLayer: 1 });
		await consumer.setPriority(2);
		await consumer.unsetPriority();
		await consumer.requestKeyFrame();
		await consumer.resume();
		const current: types.ConsumerLayers | undefined = consumer.currentLayers;
		const preferred: types.ConsumerLayers | undefined = consumer.preferredLayers;
		void [current, preferred, consumer.priority, consumer.score.producerScore];
		const cstats: (types.RtpStreamSendStats | types.RtpStreamRecvStats)[] = await consumer.getStats();
		void cstats.length;
		const dump: types.ConsumerDump = await consumer.dump();
		void dump.id;
	}

	// DataChannels.
	const dataProducer: types.DataProducer = await transport.produceData({
		sctpStreamParameters: { streamId: 0, ordered: true },
		label: 'chat',
		protocol: 'json',
	});
	const dataConsumer: types.DataConsumer = await transport.consumeData({ dataProducerId: dataProducer.id, ordered: false, maxRetransmits: 2 });
	dataConsumer.on('message', (message: Buffer, ppid: number) => void [message.length, ppid]);
	dataConsumer.on('bufferedamountlow', (amount: number) => void amount);
	await dataConsumer.setBufferedAmountLowThreshold(65536);
	void (await dataConsumer.getBufferedAmount());
	await dataConsumer.setSubchannels([1, 2]);
	const dstats: types.DataConsumerStat[] = await dataConsumer.getStats();
	void dstats;

	// A bot on a DirectTransport.
	const direct: types.DirectTransport = await router.createDirectTransport({ maxSendMessageSize: 262144, maxReceiveMessageSize: 262144 });
	const botProducer: types.DataProducer = await direct.produceData({ label: 'bot' });
	botProducer.send('hello', 51, [1], 1);
	botProducer.send(Buffer.from([1, 2, 3]));
	direct.on('rtcp', (packet: Buffer) => void packet.length);

	// A recorder over a PlainTransport (ffmpeg), and a pipe to another host.
	const plain: types.PlainTransport = await router.createPlainTransport({
		listenInfo: { protocol: 'udp', ip: '127.0.0.1' },
		rtcpMux: false,
		comedia: true,
		enableSrtp: true,
		srtpCryptoSuite: 'AES_CM_128_HMAC_SHA1_80',
	});
	plain.on('tuple', (tuple: types.TransportTuple) => void tuple.localPort);
	const srtp: types.SrtpParameters | undefined = plain.srtpParameters;
	void [plain.tuple.localPort, plain.rtcpTuple?.localPort, srtp];
	await plain.connect({ ip: '127.0.0.1', port: 5004, rtcpPort: 5005 });
	const pipe: types.PipeTransport = await router.createPipeTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, enableSctp: true, enableRtx: true, enableSrtp: true });
	await pipe.connect({ ip: '127.0.0.1', port: 40001, srtpParameters: pipe.srtpParameters });
	const router2: types.Router = await worker.createRouter({ mediaCodecs });
	const piped: types.PipeToRouterResult = await router.pipeToRouter({ producerId: producer.id, router: router2 });
	void [piped.pipeConsumer?.id, piped.pipeProducer?.id];

	// Who is talking.
	const levels: types.AudioLevelObserver = await router.createAudioLevelObserver({ maxEntries: 1, threshold: -80, interval: 800 });
	levels.on('volumes', (volumes: types.AudioLevelObserverVolume[]) => void volumes[0]?.volume);
	levels.on('silence', () => undefined);
	const speaker: types.ActiveSpeakerObserver = await router.createActiveSpeakerObserver({ interval: 300 });
	speaker.on('dominantspeaker', (d: types.ActiveSpeakerObserverDominantSpeaker) => void d.producer.id);
	await speaker.addProducer({ producerId: producer.id });
	await speaker.pause();

	// Errors the app tells apart.
	try {
		await transport.consume({ producerId: 'nope', rtpCapabilities });
	} catch (error) {
		if (error instanceof mediasoup.errors.UnsupportedError) throw error;
		if (error instanceof TypeError) throw error;
	}

	router.close();
	worker.close();
}
