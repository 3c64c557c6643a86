'use strict';

// RTP packets for tests that feed producers directly (DirectTransport, raw UDP).

/** A plain RTP packet (no CSRCs, no extensions). */
function packet({ pt, seq, ts, ssrc, payload, marker = false }) {
	const header = Buffer.alloc(12);
	header[0] = 0x80;
	header[1] = (marker ? 0x80 : 0) | pt;
	header.writeUInt16BE(seq & 0xffff, 2);
	header.writeUInt32BE(ts >>> 0, 4);
	header.writeUInt32BE(ssrc >>> 0, 8);
	return Buffer.concat([header, payload]);
}

/** A one-packet VP8 frame (a key frame with `key`, 320x240), payload type 96. */
function vp8Packet({ seq, ts, ssrc, key = false }) {
	// Payload descriptor: S=1, partition 0. Frame tag: P bit 0 for key frames.
	const descriptor = Buffer.from([0x10]);
	const frame = key
		? Buffer.from([0x50, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00, ...Buffer.alloc(200, 0x11)])
		: Buffer.from([0x51, 0x02, 0x00, ...Buffer.alloc(100, 0x22)]);
	return packet({ pt: 96, seq, ts, ssrc, payload: Buffer.concat([descriptor, frame]), marker: true });
}

/** Producer parameters for vp8Packet()'s stream. */
function vp8Parameters(ssrc) {
	return {
		codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }] }],
		encodings: [{ ssrc }],
	};
}

module.exports = { packet, vp8Packet, vp8Parameters };
