'use strict';

// Media codec sets used across tests.
module.exports = {
	opusVp8: [
		{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
		{ kind: 'video', mimeType: 'video/VP8', clockRate: 90000, parameters: { 'x-google-start-bitrate': 1000 } },
	],
	full: [
		{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2, parameters: { useinbandfec: 1 } },
		{ kind: 'audio', mimeType: 'audio/multiopus', clockRate: 48000, channels: 6,
			parameters: { channel_mapping: '0,4,1,2,3,5', num_streams: 4, coupled_streams: 2 } },
		{ kind: 'audio', mimeType: 'audio/PCMU', clockRate: 8000 },
		{ kind: 'audio', mimeType: 'audio/PCMA', preferredPayloadType: 8, clockRate: 8000 },
		{ kind: 'audio', mimeType: 'audio/G722', clockRate: 8000 },
		{ kind: 'audio', mimeType: 'audio/telephone-event', clockRate: 48000 },
		{ kind: 'video', mimeType: 'video/VP8', clockRate: 90000 },
		{ kind: 'video', mimeType: 'video/VP9', clockRate: 90000, parameters: { 'profile-id': 2 } },
		{ kind: 'video', mimeType: 'video/h264', clockRate: 90000,
			parameters: { 'packetization-mode': 1, 'profile-level-id': '4d0032', 'level-asymmetry-allowed': 1 } },
		{ kind: 'video', mimeType: 'video/H264', clockRate: 90000,
			parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f' } },
		{ kind: 'video', mimeType: 'video/AV1', clockRate: 90000, preferredPayloadType: 45 },
	],
};
