'use strict';

// Debian's ffmpeg as a real RTP/SRTP peer: a sender of test-pattern VP8 (and Opus), a
// receiver that records what an SDP describes, and ffprobe to read the recording back.
const { spawn, execFile } = require('node:child_process');
const dgram = require('node:dgram');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

function available() {
	for (const bin of ['ffmpeg', 'ffprobe']) {
		if (!process.env.PATH.split(':').some((dir) => fs.existsSync(path.join(dir, bin)))) return false;
	}
	return true;
}

/** Runs ffmpeg with `args`; `exited` resolves with { code, signal, stderr }. */
function run(args) {
	const child = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'warning', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
	let stderr = '';
	child.stderr.on('data', (d) => {
		stderr += d;
	});
	const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr })));
	return { child, exited, stop: () => child.kill('SIGINT') };
}

/**
 * Sends a 320x240 30 fps VP8 test pattern (key frame every second) to `video` and, with
 * `audio`, a 440 Hz Opus tone, each as RTP (`srtp` `{ suite, keyBase64 }` makes it SRTP).
 * `video`/`audio`: `{ port, rtcpPort, ssrc, payloadType }`. Runs for `seconds`.
 */
function sendTestPattern({ video, audio, srtp, seconds = 30, host = '127.0.0.1' }) {
	const scheme = srtp ? 'srtp' : 'rtp';
	const security = srtp ? ['-srtp_out_suite', srtp.suite, '-srtp_out_params', srtp.keyBase64] : [];
	const url = (o) => `${scheme}://${host}:${o.port}?rtcpport=${o.rtcpPort ?? o.port + 1}&pkt_size=1200`;
	const args = ['-re', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=30'];
	if (audio) args.push('-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000');
	args.push(
		'-map', '0:v:0', '-t', String(seconds), '-c:v', 'libvpx', '-b:v', '300k', '-deadline', 'realtime', '-cpu-used', '8', '-g', '30',
		'-payload_type', String(video.payloadType), '-ssrc', String(signed32(video.ssrc)), ...security, '-f', 'rtp', url(video)
	);
	if (audio) {
		args.push(
			'-map', '1:a:0', '-t', String(seconds), '-c:a', 'libopus', '-b:a', '64k', '-ac', '2',
			'-payload_type', String(audio.payloadType), '-ssrc', String(signed32(audio.ssrc)), ...security, '-f', 'rtp', url(audio)
		);
	}
	return run(args);
}

/** ffmpeg's -ssrc is a signed 32-bit option. */
function signed32(n) {
	return n > 0x7fffffff ? n - 0x100000000 : n;
}

/** An even UDP port whose successor is free too (ffmpeg receives RTCP on port + 1). */
async function freePortPair() {
	for (let attempt = 0; attempt < 50; attempt++) {
		const a = dgram.createSocket('udp4');
		await new Promise((r) => a.bind(0, '127.0.0.1', r));
		const port = a.address().port & ~1;
		a.close();
		const ok = await Promise.all([port, port + 1].map((p) => new Promise((resolve) => {
			const s = dgram.createSocket('udp4');
			s.once('error', () => resolve(false));
			s.bind(p, '127.0.0.1', () => s.close(() => resolve(true)));
		})));
		if (ok.every(Boolean) && port > 1024) return port;
	}
	throw new Error('no free UDP port pair');
}

/**
 * Records the VP8 stream an SDP describes (`port`, `payloadType`, `crypto` inline key for
 * SRTP) into a WebM file for `seconds`; resolves when ffmpeg has bound its ports.
 */
async function recordVp8({ port, payloadType, crypto, seconds = 3 }) {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferrosoup-ffmpeg-'));
	const sdp = path.join(dir, 'in.sdp');
	const file = path.join(dir, 'out.webm');
	const lines = [
		'v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=ferrosoup', 'c=IN IP4 127.0.0.1', 't=0 0',
		`m=video ${port} RTP/${crypto ? 'SAVP' : 'AVP'} ${payloadType}`,
		`a=rtpmap:${payloadType} VP8/90000`,
		...(crypto ? [`a=crypto:1 ${crypto.suite} inline:${crypto.keyBase64}`] : []),
		'a=recvonly',
	];
	fs.writeFileSync(sdp, `${lines.join('\n')}\n`);
	const rec = run(['-protocol_whitelist', 'file,rtp,udp', '-listen_timeout', '15', '-i', sdp, '-map', '0', '-c', 'copy', '-t', String(seconds), '-y', file]);
	// Bound once its port is taken (polled, bounded).
	const deadline = Date.now() + 10000;
	while (Date.now() < deadline) {
		const taken = await new Promise((resolve) => {
			const s = dgram.createSocket('udp4');
			s.once('error', () => resolve(true));
			s.bind(port, '0.0.0.0', () => s.close(() => resolve(false)));
		});
		if (taken) break;
		await new Promise((r) => setTimeout(r, 20));
	}
	return { ...rec, file, dir };
}

/** ffprobe's view of a file's first video stream: { codec_name, width, height }. */
function probe(file) {
	return new Promise((resolve, reject) => {
		execFile('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,width,height', '-count_frames', '-show_entries', 'stream=nb_read_frames', '-of', 'json', file], (error, stdout) => {
			if (error) return reject(error);
			resolve(JSON.parse(stdout).streams[0]);
		});
	});
}

module.exports = { available, run, sendTestPattern, freePortPair, recordVp8, probe };
