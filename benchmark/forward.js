'use strict';

/**
 * Forwarding cost: one producer (synthetic VP8 at --kbps, default 1500, 30 fps + Opus-sized
 * audio at 50 packets/s) sent over SRTP by a native publisher to K consumers on native
 * receivers, all over loopback. The server runs in its own process; its CPU seconds (all
 * threads, from its own accounting) per million RTP packets it sends are the figure.
 *
 *   node benchmark/forward.js                 # K = 100, 500, 1000, 2000; 1 and 2 worker threads
 *   node benchmark/forward.js --k 100,500 --workers 1,2 --seconds 5
 *   node benchmark/forward.js --k 500 --workers 1 --sendmmsg on,off   # batched sends vs sendto
 *   node benchmark/forward.js --modules ferrosoup,mediasoup            # side by side, if installed
 *   node benchmark/forward.js --k 500 --workers 1 --listen transport,server   # a port per transport vs one WebRtcServer
 *   node benchmark/forward.js --floor off     # without the floor rows
 *   node benchmark/forward.js --k 500 --workers 1 --gso on,off --packetize equal,browser
 *       # UDP segmentation offload on/off; the publisher's frames split equally or as libwebrtc
 *       # does (packet sizes differing by a byte: fewer runs of one size for GSO to carry)
 *   node benchmark/forward.js --k 500 --workers 1 --rps   # root: receivers' kernel work elsewhere
 *   node benchmark/forward.js --k 500 --workers 1 --listen transport,server --repeat 5
 *       # each case 5 times, each run right after a floor run of its own: medians and ranges
 *       # of both and of the pairs' ratios (this machine's figures move by ±30 % over an hour)
 *
 * --rps: over loopback the receivers' kernel receive path (socket lookup, segmentation, queueing,
 * wake-ups) runs in softirq on the sending CPU and is charged to the sender; a network leaves it
 * to the viewers' hosts. With --rps, loopback's receive processing is steered to CPU 1 (RPS,
 * /sys/class/net/lo/queues/rx-0/rps_cpus, restored after), the server and the floor's sending
 * thread run on CPU 0 only, the publisher and receivers on CPU 1: both then count the send path
 * alone. (Needs root and 2 CPUs.)
 *
 * The floor (issue 23): for each K and listen mode, the same publisher's packets sealed in place
 * (AES-128-GCM, ring) and sent with sendmmsg to K local receivers with no SFU logic, from a socket
 * per receiver ("per transport") or one socket ("WebRtcServer"); the sending thread's CPU-s per
 * M datagrams. Each ferrosoup row prints its ratio to the floor of its K and listen mode.
 *
 * Then, per K, the engine alone (no sockets, no kernel): one Engine fed the same publisher's
 * packets in virtual time forwarding to K plain SRTP viewers, its CPU time per datagram, beside
 * the floor's user-space work (copy, renumber, seal) on the same packets: the SFU's own cost,
 * steadier than the socket figures, which are mostly the kernel's.
 */
const fs = require('node:fs');
const path = require('node:path');
const { forkServer } = require('./lib/child-server');
const binding = require('../crates/tools-node');

function arg(name, fallback) {
	const i = process.argv.indexOf(`--${name}`);
	return i > 0 ? process.argv[i + 1] : fallback;
}
const KS = arg('k', '100,500,1000,2000').split(',').map(Number);
const WORKERS = arg('workers', '1,2').split(',').map(Number);
const SECONDS = Number(arg('seconds', '6'));
const KBPS = Number(arg('kbps', '1500'));
const SENDMMSG = arg('sendmmsg', 'on').split(',');
const GSO = arg('gso', 'on').split(',');
const PACKETIZE = arg('packetize', 'browser').split(',');
const MODULES = arg('modules', 'ferrosoup').split(',');
const LISTEN = arg('listen', 'transport').split(',');
const FLOOR = arg('floor', 'on') !== 'off';
const OUT = arg('out', path.join(__dirname, 'results', 'forward.json'));
const RPS = process.argv.includes('--rps');
const REPEAT = Math.max(1, Number(arg('repeat', '1')));
const RPS_FILE = '/sys/class/net/lo/queues/rx-0/rps_cpus';

const server = () => forkServer(path.join(__dirname, 'lib', 'forward-server.js'), { cpus: RPS ? 0 : undefined });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function run(workers, k) {
	const s = server();
	try {
		const dtlsParameters = JSON.parse(binding.nativeViewerDtlsParameters());
		const transport = await s.call('setup', { workers });
		const videoSsrc = 11111111;
		const audioSsrc = 22222222;
		await s.call('produce', { dtlsParameters, videoSsrc, audioSsrc });
		const total = 600000; // the case's process ends it
		const browserSizes = process.env.FORWARD_PACKETIZE !== 'equal';
		const publishing = binding.nativePublish(JSON.stringify({ ...transport, videoSsrc, audioSsrc, videoKbps: KBPS, durationMs: total, timeoutMs: 10000, browserSizes }));
		publishing.catch(() => {});
		await sleep(500);
		const before = await s.call('usage');
		const created = Date.now();
		const receivers = await s.call('consumers', { k, dtlsParameters });
		if (process.env.FORWARD_VERBOSE) console.error(`    ${k} consumers created in ${Date.now() - created} ms`);
		// A receiver that cannot connect (server saturated) is counted as not fed, not fatal.
		const counting = Promise.allSettled(receivers.map((r) => binding.nativeReceiverCount(JSON.stringify({ ...r, durationMs: 600000, timeoutMs: 60000 }))));
		// Wait until receivers stop connecting (all, or the rest timed out), then measure.
		let connected = -1;
		for (let i = 0; i < 60; i++) {
			await sleep(1000);
			const asked = Date.now();
			const now = (await s.call('usage')).connected;
			if (process.env.FORWARD_VERBOSE) console.error(`    connected ${now}/${k} (usage answered in ${Date.now() - asked} ms)`);
			if (now === k || now === connected) break;
			connected = now;
		}
		await sleep(1000);
		const u1 = await s.call('usage');
		await sleep(SECONDS * 1000);
		const u2 = await s.call('usage');
		void counting;
		const packets = u2.rtpPacketsSent - u1.rtpPacketsSent;
		const datagrams = u2.udpDatagramsSent - u1.udpDatagramsSent;
		const syscalls = u2.udpSendSyscalls - u1.udpSendSyscalls;
		const gsoDatagrams = (u2.udpGsoDatagrams ?? 0) - (u1.udpGsoDatagrams ?? 0);
		const gsoMessages = (u2.udpGsoMessages ?? 0) - (u1.udpGsoMessages ?? 0);
		const cpuS = (u2.cpuMs - u1.cpuMs) / 1000;
		const userS = (u2.userCpuMs - u1.userCpuMs) / 1000;
		const wallS = (u2.at - u1.at) / 1000;
		return {
			workers,
			k,
			sendmmsg: process.env.FERROSOUP_SENDMMSG !== '0',
			listen: process.env.FORWARD_LISTEN === 'server' ? 'WebRtcServer' : 'per transport',
			packetize: process.env.FORWARD_PACKETIZE === 'equal' ? 'equal' : 'browser',
			datagramsPerSendSyscall: Math.round((datagrams / Math.max(1, syscalls)) * 100) / 100,
			gso: process.env.FERROSOUP_GSO !== '0',
			// Of the datagrams sent, the share that left by segmentation offload, and how many a
			// segmented message carried.
			gsoShare: Math.round((gsoDatagrams / Math.max(1, datagrams)) * 1000) / 1000,
			datagramsPerGsoMessage: Math.round((gsoDatagrams / Math.max(1, gsoMessages)) * 100) / 100,
			receiversConnected: u1.connected,
			packetsPerSecond: Math.round(packets / wallS),
			cpuSecondsPerMillionPackets: Math.round((cpuS / (packets / 1e6)) * 100) / 100,
			userCpuSecondsPerMillionPackets: Math.round((userS / (packets / 1e6)) * 100) / 100,
			cpuCoresBusy: Math.round((cpuS / wallS) * 100) / 100,
			// mediasoup's workers are other processes: the server's RSS says nothing of them.
			memoryPerConsumerKiB: (process.env.FORWARD_MODULE ?? 'ferrosoup') === 'ferrosoup' ? Math.round((u1.rss - before.rss) / k / 1024) : 'n/a',
		};
	} finally {
		s.kill();
	}
}

/** Each case in its own process: its native publisher and receivers end with it. */
function runIsolated(w, k, sendmmsg, module, listen, gso = 'on', packetize = 'browser') {
	const { execFileSync } = require('node:child_process');
	const out = execFileSync(process.execPath, [__filename, '--one', `${w},${k}`, '--seconds', String(SECONDS), '--kbps', String(KBPS), ...(RPS ? ['--rps'] : [])], {
		stdio: ['ignore', 'pipe', 'inherit'],
		env: { ...process.env, FERROSOUP_SENDMMSG: sendmmsg === 'off' ? '0' : '1', FERROSOUP_GSO: gso === 'off' ? '0' : '1', FORWARD_MODULE: module, FORWARD_LISTEN: listen, FORWARD_PACKETIZE: packetize },
		timeout: 300000,
	});
	return { module, ...JSON.parse(out.toString()) };
}

function installed(module) {
	if (module === 'ferrosoup') return true;
	try {
		require.resolve(module);
		return true;
	} catch {
		return false;
	}
}

/** --rps: runs the rest of the benchmark under `taskset -c 1` with loopback's receive path on CPU 1. */
function steerReceives() {
	const { spawnSync } = require('node:child_process');
	if (process.env.FORWARD_RPS_PINNED) return false;
	const was = fs.readFileSync(RPS_FILE, 'utf8').trim();
	fs.writeFileSync(RPS_FILE, '2');
	try {
		const r = spawnSync('taskset', ['-c', '1', process.execPath, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, FORWARD_RPS_PINNED: '1' } });
		process.exitCode = r.status ?? 1;
	} finally {
		fs.writeFileSync(RPS_FILE, was);
	}
	return true;
}

/** Median and range of `xs`, as text. */
function spread(xs, digits = 2) {
	const s = [...xs].sort((a, b) => a - b);
	const mid = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
	return `${mid.toFixed(digits)} (${s[0].toFixed(digits)}-${s[s.length - 1].toFixed(digits)})`;
}

/** --repeat: per K and listen mode, REPEAT pairs of (floor, ferrosoup) runs back to back. */
async function repeated() {
	const pairs = [];
	for (const k of KS) {
		for (const listen of LISTEN) {
			for (let i = 0; i < REPEAT; i++) {
				const oneSocket = listen === 'server';
				const f = JSON.parse(await binding.nativeFloor(JSON.stringify({ receivers: k, videoKbps: KBPS, durationMs: SECONDS * 1000, oneSocket, senderCpu: RPS ? 0 : undefined })));
				let r;
				try {
					r = runIsolated(WORKERS[0], k, SENDMMSG[0], 'ferrosoup', listen, GSO[0], PACKETIZE[0]);
				} catch (error) {
					console.error(`  K=${k} ${listen} run ${i + 1}: failed (${error.message.split('\n')[0]})`);
					continue;
				}
				pairs.push({ k, listen: r.listen, floor: f, run: r });
				console.error(`  K=${k} ${r.listen} run ${i + 1}: floor ${f.cpuSecondsPerMillion.toFixed(2)}, ferrosoup ${r.cpuSecondsPerMillionPackets} CPU-s/M`);
			}
		}
	}
	if (RPS) console.log('Receivers\' kernel receive path on CPU 1 (RPS), server and floor sender on CPU 0: CPU figures count the send path only.');
	console.log(`Each ferrosoup run right after a floor run; medians (ranges) over ${REPEAT} pairs.`);
	console.log('| K consumers | listen | runs | floor CPU-s per M | ferrosoup CPU-s per M | of which user space | × floor (per pair) | packets/s per busy core | memory per consumer (KiB) |');
	console.log('|---|---|---|---|---|---|---|---|---|');
	for (const k of KS) {
		for (const listen of new Set(pairs.filter((p) => p.k === k).map((p) => p.listen))) {
			const ps = pairs.filter((p) => p.k === k && p.listen === listen);
			console.log(`| ${k} | ${listen} | ${ps.length} | ${spread(ps.map((p) => p.floor.cpuSecondsPerMillion))} | ${spread(ps.map((p) => p.run.cpuSecondsPerMillionPackets))} | ${spread(ps.map((p) => p.run.userCpuSecondsPerMillionPackets ?? 0))} | ${spread(ps.map((p) => p.run.cpuSecondsPerMillionPackets / p.floor.cpuSecondsPerMillion))} | ${spread(ps.map((p) => p.run.packetsPerSecond / Math.max(1e-9, p.run.cpuCoresBusy) / 1000), 0)} k | ${spread(ps.map((p) => p.run.memoryPerConsumerKiB), 0)} |`);
		}
	}
	fs.mkdirSync(path.dirname(OUT), { recursive: true });
	fs.writeFileSync(OUT, JSON.stringify({ date: new Date().toISOString(), kbps: KBPS, seconds: SECONDS, repeat: REPEAT, pairs }, null, 2));
}

async function main() {
	const one = arg('one');
	if (RPS && !one && steerReceives()) return;
	if (one) {
		const [w, k] = one.split(',').map(Number);
		process.stdout.write(JSON.stringify(await run(w, k)));
		process.exit(0);
	}
	if (REPEAT > 1) return repeated();
	const rows = [];
	for (const module of MODULES) {
		if (!installed(module)) {
			console.error(`  ${module}: not installed, skipped`);
			continue;
		}
		for (const k of KS) {
			for (const w of WORKERS) {
				for (const m of module === 'ferrosoup' ? SENDMMSG : ['n/a']) {
					for (const listen of LISTEN) {
						for (const gso of module === 'ferrosoup' && m !== 'off' ? GSO : ['off']) {
							for (const packetize of PACKETIZE) {
								let r;
								try {
									r = runIsolated(w, k, m, module, listen, gso, packetize);
								} catch (error) {
									console.error(`  ${module} K=${k} workers=${w}: failed (${error.message.split('\n')[0]})`);
									continue;
								}
								rows.push(r);
								console.error(`  ${module} K=${k} workers=${w} sendmmsg=${m} gso=${gso} listen=${listen} packetize=${packetize}: ${r.packetsPerSecond} pkt/s, ${r.cpuSecondsPerMillionPackets} CPU-s/M, ${r.datagramsPerSendSyscall} datagrams/syscall, GSO share ${r.gsoShare}`);
							}
						}
					}
				}
			}
		}
	}
	const floors = [];
	if (FLOOR) {
		for (const k of KS) {
			for (const listen of LISTEN) {
				const oneSocket = listen === 'server';
				const f = JSON.parse(await binding.nativeFloor(JSON.stringify({ receivers: k, videoKbps: KBPS, durationMs: SECONDS * 1000, oneSocket, senderCpu: RPS ? 0 : undefined })));
				floors.push({ k, listen: oneSocket ? 'WebRtcServer' : 'per transport', ...f });
				console.error(`  floor K=${k} ${oneSocket ? 'one socket' : 'socket per receiver'}: ${f.cpuSecondsPerMillion.toFixed(2)} CPU-s/M, ${(f.datagrams / Math.max(1, f.syscalls)).toFixed(2)} datagrams/syscall`);
			}
		}
	}
	// The SFU's own work without sockets: one engine fed the same publisher in virtual time.
	const engines = [];
	if (FLOOR) {
		for (const k of KS) {
			const e = JSON.parse(await binding.nativeEngineForward(JSON.stringify({ viewers: k, videoKbps: KBPS, browserSizes: PACKETIZE.includes('browser') })));
			engines.push(e);
			console.error(`  engine K=${k}, no sockets: ${(e.engineNsPerDatagram / 1000).toFixed(2)} CPU-s/M (copy and seal: ${(e.sealNsPerDatagram / 1000).toFixed(2)})`);
		}
	}
	const floorOf = (r) => floors.find((f) => f.k === r.k && f.listen === r.listen);
	if (RPS) console.log('Receivers\' kernel receive path on CPU 1 (RPS), server and floor sender on CPU 0: CPU figures count the send path only.');
	console.log('| module | K consumers | workers | sends | listen | packetized | receivers fed | forwarded packets/s | server CPU-s per M packets | of which user space | × floor | server cores busy | packets/s per busy core | datagrams per send syscall | share by GSO (per message) | memory per consumer (KiB) |');
	console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
	for (const f of floors) {
		console.log(`| floor | ${f.k} | 1 thread | sendmmsg | ${f.listen} | equal | ${f.receivers} | ${Math.round(f.datagramsPerSecond)} | ${f.cpuSecondsPerMillion.toFixed(2)} | — | 1.00 | ${(f.threadCpuSeconds / f.wallSeconds).toFixed(2)} | ${Math.round(f.datagramsPerSecond / Math.max(1e-9, f.threadCpuSeconds / f.wallSeconds))} | ${(f.datagrams / Math.max(1, f.syscalls)).toFixed(2)} | — | — |`);
	}
	for (const r of rows) {
		const sends = r.module !== 'ferrosoup' ? 'sendto' : r.sendmmsg ? (r.gso ? 'sendmmsg + GSO' : 'sendmmsg') : 'sendto';
		const f = floorOf(r);
		const ratio = f ? (r.cpuSecondsPerMillionPackets / f.cpuSecondsPerMillion).toFixed(2) : '—';
		const perCore = r.cpuCoresBusy > 0 ? Math.round(r.packetsPerSecond / r.cpuCoresBusy) : '—';
		const gso = r.gso ? `${Math.round(r.gsoShare * 100)}% (${r.datagramsPerGsoMessage})` : '—';
		console.log(`| ${r.module} | ${r.k} | ${r.workers} | ${sends} | ${r.listen} | ${r.packetize} | ${r.receiversConnected} | ${r.packetsPerSecond} | ${r.cpuSecondsPerMillionPackets} | ${r.userCpuSecondsPerMillionPackets ?? '—'} | ${ratio} | ${r.cpuCoresBusy} | ${perCore} | ${r.datagramsPerSendSyscall} | ${gso} | ${r.memoryPerConsumerKiB} |`);
	}
	if (engines.length) {
		console.log('');
		console.log('| K viewers (plain SRTP, no sockets) | engine CPU-s per M datagrams | copy and seal per M datagrams | × copy and seal |');
		console.log('|---|---|---|---|');
		for (const e of engines) {
			console.log(`| ${e.viewers} | ${(e.engineNsPerDatagram / 1000).toFixed(2)} | ${(e.sealNsPerDatagram / 1000).toFixed(2)} | ${(e.engineNsPerDatagram / e.sealNsPerDatagram).toFixed(2)} |`);
		}
	}
	fs.mkdirSync(path.dirname(OUT), { recursive: true });
	fs.writeFileSync(OUT, JSON.stringify({ date: new Date().toISOString(), kbps: KBPS, seconds: SECONDS, rows, floors, engines }, null, 2));
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
