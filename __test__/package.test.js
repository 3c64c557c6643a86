'use strict';

// As a user without Rust gets it: `npm pack` of ferrosoup and of this platform's prebuilt
// package, both installed into an empty app with cargo off the PATH; the app runs a worker, a
// router, a WebRtcTransport and RTP from a producer to a consumer.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { platformKey } = require('../lib/platform');

const root = path.join(__dirname, '..');

/** PATH without any directory that holds cargo or rustc. */
function pathWithoutRust() {
	return process.env.PATH.split(path.delimiter)
		.filter((dir) => !['cargo', 'rustc'].some((tool) => fs.existsSync(path.join(dir, tool))))
		.join(path.delimiter);
}

const SMOKE = `
const ferrosoup = require('ferrosoup');
(async () => {
	const worker = await ferrosoup.createWorker();
	const router = await worker.createRouter({ mediaCodecs: [{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 }] });
	const webrtc = await router.createWebRtcTransport({ listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }] });
	const a = await router.createDirectTransport();
	const b = await router.createDirectTransport();
	const producer = await a.produce({ kind: 'audio', rtpParameters: {
		codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: 1111 }] } });
	const consumer = await b.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities });
	const got = new Promise((resolve) => consumer.on('rtp', resolve));
	const packet = Buffer.alloc(16);
	packet[0] = 0x80; packet[1] = 111; packet.writeUInt16BE(1, 2); packet.writeUInt32BE(960, 4); packet.writeUInt32BE(1111, 8);
	packet.write('opus', 12);
	producer.send(packet);
	const rtp = await got;
	console.log(JSON.stringify({ version: ferrosoup.version, mediasoupVersion: ferrosoup.mediasoupVersion, webrtcPorts: webrtc.iceCandidates.length, rtpBytes: rtp.length }));
	worker.close();
})().catch((e) => { console.error(e); process.exit(1); });
`;

test('packed ferrosoup + its prebuilt addon install and run where there is no cargo', { timeout: 240000 }, () => {
	const key = platformKey();
	assert.ok(fs.existsSync(path.join(root, `ferrosoup.${key}.node`)), 'run `npm run build` first');
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferrosoup-pack-'));
	try {
		const tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: root, encoding: 'utf8' }).trim().split('\n').pop();
		const prebuilt = execFileSync(process.execPath, [path.join(root, 'scripts', 'pack-platform.js'), dir], { cwd: root, encoding: 'utf8' }).trim();
		// The packed package carries sources for a fallback build, never an addon.
		const listing = execFileSync('tar', ['-tzf', path.join(dir, tarball)], { encoding: 'utf8' });
		assert.ok(!/\.node$/m.test(listing), 'no .node in the ferrosoup tarball');
		assert.match(listing, /package\/scripts\/install\.js/);

		const app = path.join(dir, 'app');
		fs.mkdirSync(app);
		fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
		const env = { ...process.env, PATH: pathWithoutRust(), CARGO_HOME: path.join(dir, 'no-cargo') };
		assert.throws(() => execFileSync('cargo', ['--version'], { env, stdio: 'ignore' }), 'cargo is off the PATH');
		execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', prebuilt, path.join(dir, tarball)], { cwd: app, env, stdio: 'pipe' });
		assert.ok(!fs.existsSync(path.join(app, 'node_modules', 'ferrosoup', `ferrosoup.${key}.node`)), 'nothing was built');
		const out = execFileSync(process.execPath, ['-e', SMOKE], { cwd: app, env, encoding: 'utf8', timeout: 60000 });
		const result = JSON.parse(out.trim().split('\n').pop());
		assert.equal(result.mediasoupVersion, '3.27.1');
		assert.equal(result.webrtcPorts, 1);
		assert.ok(result.rtpBytes >= 16);
	} finally {
		fs.rmSync(dir, { recursive: true, force: true });
	}
});

test('without a prebuilt addon or cargo, the install step says what is missing', { timeout: 60000 }, () => {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferrosoup-noaddon-'));
	try {
		// A copy of the package without any addon, its install step run with cargo off the PATH.
		for (const f of ['package.json', 'scripts/install.js', 'lib/native.js', 'lib/platform.js']) {
			fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
			fs.copyFileSync(path.join(root, f), path.join(dir, f));
		}
		const env = { ...process.env, PATH: pathWithoutRust() };
		let error;
		try {
			execFileSync(process.execPath, [path.join(dir, 'scripts', 'install.js')], { cwd: dir, env, encoding: 'utf8', stdio: 'pipe' });
		} catch (e) {
			error = e;
		}
		assert.ok(error, 'the install step fails');
		assert.match(error.stderr, /cargo \(Rust\) is not on PATH/);
		assert.match(error.stderr, /rustup\.rs/);
		assert.match(error.stderr, new RegExp(`ferrosoup-${platformKey()}`));
	} finally {
		fs.rmSync(dir, { recursive: true, force: true });
	}
});

test('npm test stops at once, naming the install command, when Chromium is missing', () => {
	let error;
	try {
		execFileSync(process.execPath, [path.join(root, 'scripts', 'check-test-tools.js')], { env: { ...process.env, CHROMIUM_PATH: '/nonexistent/chromium' }, encoding: 'utf8', stdio: 'pipe' });
	} catch (e) {
		error = e;
	}
	assert.ok(error, 'it fails');
	assert.match(error.stderr, /apt-get install -y chromium/);
	// With everything present it passes quietly.
	execFileSync(process.execPath, [path.join(root, 'scripts', 'check-test-tools.js')], { stdio: 'pipe' });
});
