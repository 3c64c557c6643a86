// The room page: a broadcaster (camera + mic) or a viewer, with mediasoup-client over socket.io.
// The viewer joins with the report's 8 messages, in order, and times them.
import { Device } from 'mediasoup-client';
import { io } from 'socket.io-client';

const socket = io({ transports: ['websocket'] });
const replies = [];

/** One socket.io request; records the reply time. */
function request(event, data) {
	const t0 = performance.now();
	return new Promise((resolve, reject) => {
		socket.emit(event, data, (reply) => {
			replies.push({ event, ms: performance.now() - t0 });
			if (reply && reply.error) reject(new Error(`${event}: ${reply.error}`));
			else resolve(reply);
		});
	});
}

function status(text) {
	const el = document.getElementById('status');
	if (el) el.textContent = text;
}

const state = { transports: [], streams: [], roomId: null, device: null, chat: null, hosts: {}, hostId: null };

// Which host this page is on, and the room's peers per host (every host tells, through
// socket.io's Redis adapter when the demo runs as a cluster).
fetch('/info').then((r) => r.json()).then((info) => {
	state.hostId = info.hostId;
	show('host', `on host ${info.hostId}`);
}).catch(() => {});
socket.on('roomInfo', ({ hostId, peers }) => {
	state.hosts[hostId] = peers;
	show('hosts', Object.entries(state.hosts).map(([h, n]) => `${h}: ${n}`).join(', '));
});

function show(id, text) {
	const el = document.getElementById(id);
	if (el) el.textContent = text;
}

async function broadcast(roomId, name = 'broadcaster') {
	state.roomId = roomId;
	await request('createRoom', { roomId });
	await request('join', { roomId, name, roomInfo: true });
	const routerRtpCapabilities = await request('getRouterRtpCapabilities', { roomId });
	const device = new Device();
	await device.load({ routerRtpCapabilities });
	state.device = device;
	const params = await request('createWebRtcTransport', { roomId, producing: true });
	const transport = device.createSendTransport(params);
	state.transports.push(transport);
	transport.on('connect', ({ dtlsParameters }, cb, eb) =>
		request('connectTransport', { roomId, transportId: transport.id, dtlsParameters }).then(() => cb(), eb));
	transport.on('produce', ({ kind, rtpParameters }, cb, eb) =>
		request('produce', { roomId, transportId: transport.id, kind, rtpParameters }).then(({ id }) => cb({ id }), eb));
	const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360, frameRate: 30 }, audio: true });
	state.streams.push(stream);
	const video = document.getElementById('video');
	if (video) video.srcObject = stream;
	await transport.produce({ track: stream.getVideoTracks()[0] });
	await transport.produce({ track: stream.getAudioTracks()[0] });
	status(`Broadcasting in room "${roomId}".`);
	return true;
}

/**
 * Joins as a viewer. Resolves with the video load time (join start → first decoded frame) and
 * each reply's time.
 */
async function watch(roomId, name = 'viewer') {
	state.roomId = roomId;
	replies.length = 0;
	const t0 = performance.now();
	await request('createRoom', { roomId }); // 1
	await request('join', { roomId, name, roomInfo: true }); // 2
	const routerRtpCapabilities = await request('getRouterRtpCapabilities', { roomId }); // 3
	const device = new Device();
	await device.load({ routerRtpCapabilities });
	state.device = device;
	const params = await request('createWebRtcTransport', { roomId, producing: false }); // 4
	const transport = device.createRecvTransport(params);
	state.transports.push(transport);
	let connectedAt;
	transport.on('connectionstatechange', (s) => {
		if (s === 'connected' && connectedAt === undefined) connectedAt = performance.now();
	});
	transport.on('connect', ({ dtlsParameters }, cb, eb) =>
		request('connectTransport', { roomId, transportId: transport.id, dtlsParameters }).then(() => cb(), eb)); // 8
	const producers = await request('getProducers', { roomId }); // 5
	const ordered = [...producers].sort((a, b) => (a.kind === 'audio' ? -1 : 1) - (b.kind === 'audio' ? -1 : 1));
	const tracks = [];
	const marks = {};
	for (const { producerId } of ordered) {
		const p = await request('consume', { roomId, transportId: transport.id, producerId, rtpCapabilities: device.rtpCapabilities }); // 6, 7
		marks[`${p.kind}Consume`] = performance.now() - t0;
		const consumer = await transport.consume({ id: p.id, producerId, kind: p.kind, rtpParameters: p.rtpParameters });
		marks[`${p.kind}Ready`] = performance.now() - t0;
		consumer.track.addEventListener('unmute', () => { marks[`${p.kind}Unmute`] = performance.now() - t0; }, { once: true });
		tracks.push(consumer.track);
	}
	const video = document.getElementById('video') ?? document.body.appendChild(document.createElement('video'));
	video.muted = true;
	video.srcObject = new MediaStream(tracks);
	video.play().catch(() => {});
	const firstFrame = await new Promise((resolve) => {
		if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(() => resolve(performance.now()));
		else video.addEventListener('loadeddata', () => resolve(performance.now()), { once: true });
	});
	const loadMs = firstFrame - t0;
	status(`Watching room "${roomId}": first frame after ${loadMs.toFixed(0)} ms.`);
	// Live stats of what this viewer receives: bitrate and decoded size (the layer).
	let lastBytes = 0;
	state.statsTimer = setInterval(async () => {
		const report = await transport.getStats();
		for (const r of report.values()) {
			if (r.type === 'inbound-rtp' && r.kind === 'video') {
				const kbps = ((r.bytesReceived - lastBytes) * 8) / 1000;
				lastBytes = r.bytesReceived;
				show('stats', `${kbps.toFixed(0)} kbit/s, ${r.frameWidth ?? '?'}×${r.frameHeight ?? '?'}, first frame ${loadMs.toFixed(0)} ms`);
			}
		}
	}, 1000);
	return { loadMs, connectedMs: connectedAt === undefined ? null : connectedAt - t0, marks, replies: [...replies] };
}

/**
 * Joins the room's chat (DataChannels through the server's chat bot): a send transport with a
 * DataProducer for our messages, a receive transport with a DataConsumer for everyone's.
 * Resolves with `send(text)`; received messages go to the page and to `state.chat.messages`.
 */
async function chat(roomId, name = 'guest') {
	if (state.chat) return state.chat;
	if (state.roomId !== roomId || !state.device) {
		state.roomId = roomId;
		await request('createRoom', { roomId });
		await request('join', { roomId, name, roomInfo: true });
		const device = new Device();
		await device.load({ routerRtpCapabilities: await request('getRouterRtpCapabilities', { roomId }) });
		state.device = device;
	}
	// What we ask of the server's SCTP (mediasoup-client 3.24 no longer reports it per device).
	const sctpCapabilities = { numStreams: { OS: 1024, MIS: 1024 } };
	const connect = (transport) => transport.on('connect', ({ dtlsParameters }, cb, eb) =>
		request('connectTransport', { roomId, transportId: transport.id, dtlsParameters }).then(() => cb(), eb));

	const send = state.device.createSendTransport(await request('createWebRtcTransport', { roomId, producing: true, sctpCapabilities }));
	state.transports.push(send);
	connect(send);
	send.on('producedata', ({ sctpStreamParameters, label, protocol }, cb, eb) =>
		request('produceData', { roomId, transportId: send.id, sctpStreamParameters, label, protocol }).then(({ id }) => cb({ id }), eb));
	const dataProducer = await send.produceData({ ordered: true, label: 'chat' });

	const recv = state.device.createRecvTransport(await request('createWebRtcTransport', { roomId, producing: false, sctpCapabilities }));
	state.transports.push(recv);
	connect(recv);
	const dataConsumer = await recv.consumeData(await request('consumeChat', { roomId, transportId: recv.id }));
	const messages = [];
	const log = document.getElementById('chat-log');
	dataConsumer.on('message', (data) => {
		const message = JSON.parse(data);
		messages.push(message);
		if (log) log.append(Object.assign(document.createElement('div'), { textContent: `${message.from}: ${message.text}` }));
	});
	await new Promise((resolve) => (dataProducer.readyState === 'open' ? resolve() : dataProducer.on('open', resolve)));
	await new Promise((resolve) => (dataConsumer.readyState === 'open' ? resolve() : dataConsumer.on('open', resolve)));
	state.chat = { messages, send: (text) => dataProducer.send(String(text)) };
	status(`Chatting in room "${roomId}".`);
	return state.chat;
}

async function exit() {
	if (state.roomId) await request('exitRoom', { roomId: state.roomId });
	for (const t of state.transports) t.close();
	for (const s of state.streams) for (const track of s.getTracks()) track.stop();
	state.transports = [];
	state.chat = null;
	state.device = null;
	clearInterval(state.statsTimer);
	status('Left the room.');
}

window.roomDemo = {
	hosts: () => ({ ...state.hosts }),
	broadcast,
	watch,
	exit,
	socket,
	chat,
	say: async (text) => (state.chat ?? (await chat(document.getElementById('room').value, document.getElementById('name').value))).send(text),
	chatMessages: () => [...(state.chat?.messages ?? [])],
};

const query = new URLSearchParams(location.search);
addEventListener('DOMContentLoaded', () => {
	const room = () => document.getElementById('room').value;
	const name = () => document.getElementById('name').value;
	document.getElementById('broadcast')?.addEventListener('click', () => broadcast(room(), name()).catch((e) => status(e.message)));
	document.getElementById('watch')?.addEventListener('click', () => watch(room(), name()).catch((e) => status(e.message)));
	document.getElementById('leave')?.addEventListener('click', () => exit());
	document.getElementById('chat-form')?.addEventListener('submit', (event) => {
		event.preventDefault();
		const input = document.getElementById('chat-text');
		const text = input.value;
		input.value = '';
		if (text) window.roomDemo.say(text).catch((e) => status(e.message));
	});
	if (query.get('room')) document.getElementById('room').value = query.get('room');
	if (query.get('role') === 'broadcast') broadcast(room(), name()).catch((e) => status(e.message));
	if (query.get('role') === 'watch') watch(room(), name()).catch((e) => status(e.message));
});
