'use strict';

// A viewer without a browser: the report's 8 socket.io messages from Node (socket.io-client),
// ICE + DTLS + SRTP in Rust (ferrosoup's native viewer), timed to the first complete key frame.
const { performance } = require('node:perf_hooks');
const { io } = require('socket.io-client');
const binding = require('../../crates/tools-node');

function connectSocket(url) {
	return new Promise((resolve, reject) => {
		const socket = io(url, { transports: ['websocket'], forceNew: true, reconnection: false });
		socket.once('connect', () => resolve(socket));
		socket.once('connect_error', reject);
	});
}

/**
 * Joins `roomId` on the demo server at `url`. Resolves with { loadMs, replies, native } where
 * loadMs runs from the first message to the first complete key frame.
 */
async function nativeJoin(url, roomId, { name = 'native', timeoutMs = 20000 } = {}) {
	const socket = await connectSocket(url);
	const replies = [];
	const request = (event, data) => {
		const t = performance.now();
		return new Promise((resolve, reject) => {
			socket.emit(event, data, (reply) => {
				replies.push({ event, ms: performance.now() - t });
				if (reply && reply.error) reject(new Error(`${event}: ${reply.error}`));
				else resolve(reply);
			});
		});
	};
	const t0 = performance.now();
	try {
		await request('createRoom', { roomId });
		await request('join', { roomId, name });
		const rtpCapabilities = await request('getRouterRtpCapabilities', { roomId });
		const transport = await request('createWebRtcTransport', { roomId, producing: false });
		const producers = await request('getProducers', { roomId });
		const ordered = [...producers].sort((a) => (a.kind === 'audio' ? -1 : 1));
		let video;
		for (const { producerId, kind } of ordered) {
			const c = await request('consume', { roomId, transportId: transport.id, producerId, rtpCapabilities });
			if (kind === 'video') video = c;
		}
		if (!video) throw new Error('no video producer in the room');
		const dtlsParameters = JSON.parse(binding.nativeViewerDtlsParameters());
		const connected = request('connectTransport', { roomId, transportId: transport.id, dtlsParameters });
		const watching = binding.nativeViewerWatch(
			JSON.stringify({
				...transport,
				videoSsrc: video.rtpParameters.encodings[0].ssrc,
				mimeType: video.rtpParameters.codecs[0].mimeType,
				timeoutMs,
			})
		);
		const [native] = await Promise.all([watching, connected]);
		return { loadMs: performance.now() - t0, replies, native: JSON.parse(native), socket };
	} catch (error) {
		socket.close();
		throw error;
	}
}

/** Leaves the room: exitRoom, then disconnect. */
async function leave(result, roomId) {
	await new Promise((resolve) => result.socket.emit('exitRoom', { roomId }, resolve));
	result.socket.close();
}

module.exports = { nativeJoin, leave };
