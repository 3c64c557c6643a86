'use strict';

/**
 * The report's figure: video load time when N viewers join a broadcast at once through the
 * 8-message socket.io flow of the room demo, plus what the server's Node thread pays for it.
 *
 *   node benchmark/join.js                       # native viewers N = 1,10,50,200,500; Chromium N = 1,10
 *   node benchmark/join.js --native 1,50 --chromium 1 --out /tmp/join.json
 *   node benchmark/join.js --modules ferrosoup,mediasoup   # side by side when mediasoup is installed
 *   node benchmark/join.js --modules ferrosoup:nocache,ferrosoup   # key frame cache off vs on
 *   node benchmark/join.js --modules ferrosoup:nospread,ferrosoup  # a room on one worker vs all
 *
 * The server runs in its own process (its event loop and Node-thread CPU are what we measure);
 * viewers and the broadcaster run here and in Chromium, sharing the machine.
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const kit = require('../__test__/lib/browser');
const { nativeJoin, leave } = require('./lib/native-viewer');
const { summarize } = require('./lib/stats');

function arg(name, fallback) {
	const i = process.argv.indexOf(`--${name}`);
	return i > 0 ? process.argv[i + 1] : fallback;
}
const list = (s) => (s ? s.split(',').filter(Boolean).map(Number) : []);

const NATIVE = list(arg('native', '1,10,50,200,500'));
const CHROMIUM = list(arg('chromium', '1,10'));
const MODULES = arg('modules', 'ferrosoup').split(',');
const OUT = arg('out', path.join(__dirname, 'results', 'join.json'));
const ROOM = 'bench';

/** `module` is `ferrosoup`, `mediasoup`, or `ferrosoup:<options>` with options joined by `+`:
 * `nocache` (key frame cache off), `nospread` (each room on one worker). */
function startServer(variant) {
	const [module, optionList = ''] = variant.split(':');
	const options = optionList.split('+');
	return new Promise((resolve, reject) => {
		const child = spawn(process.execPath, [path.join(__dirname, '..', 'examples', 'room', 'server.js')], {
			env: { ...process.env, PORT: '0', MEDIASOUP_MODULE: module, DEBUG: '', KEY_FRAME_CACHE: options.includes('nocache') ? 'off' : 'on', ROOM_SPREAD: options.includes('nospread') ? 'off' : 'on' },
			stdio: ['ignore', 'pipe', 'inherit'],
		});
		let out = '';
		child.stdout.on('data', (d) => {
			out += d;
			const m = /at (http:\/\/\S+)/.exec(out);
			if (m) resolve({ child, url: m[1] });
		});
		child.once('exit', (code) => reject(new Error(`server (${module}) exited with ${code}: ${out}`)));
	});
}

async function getJson(url, method = 'GET') {
	const r = await fetch(url, { method });
	return r.json();
}

function moduleAvailable(variant) {
	const module = variant.split(':')[0];
	if (module === 'ferrosoup') return true;
	try {
		require.resolve(module);
		return true;
	} catch {
		return false;
	}
}

async function waitForTransports(url, count, timeoutMs = 30000) {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		if ((await getJson(`${url}stats`)).transports <= count) return;
		await new Promise((r) => setTimeout(r, 100));
	}
}

function round(x) {
	return Number.isFinite(x) ? Math.round(x * 10) / 10 : null;
}

/** N = 1 is repeated (sequentially) so that one noisy sample does not make the figure. */
const SINGLE_TRIALS = Number(arg('trials', '5'));
/** Chromium pages idle this long after loading, before their burst of joins. */
const SETTLE_MS = Number(arg('settle-ms', '1000'));

async function burst(kind, n, url, browser) {
	if (n === 1 && SINGLE_TRIALS > 1) {
		const trials = [];
		for (let i = 0; i < SINGLE_TRIALS; i++) trials.push(await burstOnce(kind, 1, url, browser));
		const median = [...trials].sort((a, b) => a.loadMs.p50 - b.loadMs.p50)[Math.floor(trials.length / 2)];
		return { ...median, trials: trials.length, trialLoadMs: trials.map((t) => t.loadMs.p50) };
	}
	return burstOnce(kind, n, url, browser);
}

async function burstOnce(kind, n, url, browser) {
	await getJson(`${url}metrics/reset`, 'POST');
	const requestsBefore = (await getJson(`${url}metrics.json`)).keyFrameRequests;
	const t0 = Date.now();
	let outcomes;
	let pages = [];
	if (kind === 'native') {
		outcomes = await Promise.allSettled(Array.from({ length: n }, (_, i) => nativeJoin(url, ROOM, { name: `n${i}`, timeoutMs: 30000 })));
	} else {
		pages = await Promise.all(Array.from({ length: n }, async () => {
			const context = await browser.newContext();
			const page = await context.newPage();
			await page.goto(url);
			await page.waitForFunction(() => Boolean(window.roomDemo));
			return page;
		}));
		// The viewers are on the page and join together: page loads (10 renderers starting,
		// parsing the bundle) are over before the clock starts.
		await new Promise((r) => setTimeout(r, SETTLE_MS));
		await getJson(`${url}metrics/reset`, 'POST');
		outcomes = await Promise.allSettled(pages.map((p, i) => p.evaluate((name) => window.roomDemo.watch('bench', name), `c${i}`)));
	}
	const wallMs = Date.now() - t0;
	const metrics = await getJson(`${url}metrics.json`);
	const keyFrameRequests = metrics.keyFrameRequests - requestsBefore;
	const ok = outcomes.filter((o) => o.status === 'fulfilled').map((o) => o.value);
	const failures = outcomes.filter((o) => o.status === 'rejected').map((o) => String(o.reason?.message ?? o.reason));
	// Leave: exitRoom + disconnect for native viewers, closing the page for Chromium ones.
	if (kind === 'native') await Promise.all(ok.map((r) => leave(r, ROOM)));
	for (const p of pages) await p.context().close();
	await waitForTransports(url, 1);
	const load = summarize(ok.map((r) => r.loadMs));
	const handlerTimes = Object.values(metrics.handlers).flat();
	const heavy = ['createWebRtcTransport', 'consume', 'connectTransport'].flatMap((e) => metrics.handlers[e] ?? []);
	const perMessage = Object.fromEntries(Object.entries(metrics.handlers).map(([e, v]) => [e, { p50: round(summarize(v).p50), p90: round(summarize(v).p90), p99: round(summarize(v).p99) }]));
	return {
		kind,
		n,
		ok: ok.length,
		failures: failures.length,
		failureSamples: failures.slice(0, 3),
		loadMs: { p50: round(load.p50), p90: round(load.p90), p99: round(load.p99), max: round(load.max) },
		over1s: ok.length ? round((100 * ok.filter((r) => r.loadMs > 1000).length) / ok.length) : null,
		handlerP99Ms: round(summarize(handlerTimes).p99),
		heavyHandlersP90Ms: round(summarize(heavy).p90),
		perMessage,
		eventLoopDelayP99Ms: round(metrics.eventLoopDelayP99Ms),
		nodeCpuPerJoinMs: round(metrics.nodeThreadCpuMs / n),
		keyFrameRequests,
		wallMs,
		chromiumConnectedMs: kind === 'chromium' && ok.length ? round(summarize(ok.map((r) => r.connectedMs ?? NaN).filter(Number.isFinite)).p50) : undefined,
		nativeBreakdown: kind === 'native' && ok.length ? {
			iceMs: round(summarize(ok.map((r) => r.native.iceMs)).p50),
			dtlsMs: round(summarize(ok.map((r) => r.native.dtlsMs)).p50),
			firstRtpMs: round(summarize(ok.map((r) => r.native.firstRtpMs)).p50),
			firstKeyFrameMs: round(summarize(ok.map((r) => r.native.firstKeyFrameMs)).p50),
		} : undefined,
		// The slowest native viewer: its messages' round trips and its own phases.
		slowest: kind === 'native' && ok.length ? (() => {
			const r = ok.reduce((a, b) => (b.loadMs > a.loadMs ? b : a));
			return { loadMs: round(r.loadMs), replies: r.replies.map((x) => `${x.event} ${round(x.ms)}`), native: r.native };
		})() : undefined,
	};
}

async function runModule(module, browser) {
	const { child, url } = await startServer(module);
	const rows = [];
	try {
		const broadcaster = await browser.newContext().then((c) => c.newPage());
		await broadcaster.goto(url);
		await broadcaster.waitForFunction(() => Boolean(window.roomDemo));
		await broadcaster.evaluate(() => window.roomDemo.broadcast('bench'));
		// Let the encoder settle before the first burst.
		await new Promise((r) => setTimeout(r, 2000));
		for (const n of CHROMIUM) {
			rows.push({ module, ...(await burst('chromium', n, url, browser)) });
			console.error(`  ${module} chromium N=${n} done`);
		}
		for (const n of NATIVE) {
			rows.push({ module, ...(await burst('native', n, url, browser)) });
			console.error(`  ${module} native N=${n} done`);
		}
		await broadcaster.context().close();
	} finally {
		child.kill('SIGTERM');
	}
	return rows;
}

function printTable(rows) {
	console.log('| module | viewers | N | ok | fail | load p50 | p90 | p99 | max (ms) | >1 s | handler p99 (ms) | create/consume/connect p90 (ms) | loop delay p99 (ms) | Node CPU/join (ms) | key frame requests |');
	console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
	for (const r of rows) {
		console.log(`| ${r.module} | ${r.kind} | ${r.n} | ${r.ok} | ${r.failures} | ${r.loadMs.p50} | ${r.loadMs.p90} | ${r.loadMs.p99} | ${r.loadMs.max} | ${r.over1s}% | ${r.handlerP99Ms} | ${r.heavyHandlersP90Ms} | ${r.eventLoopDelayP99Ms} | ${r.nodeCpuPerJoinMs} | ${r.keyFrameRequests} |`);
	}
}

async function main() {
	const browser = await kit.launchBrowser();
	const rows = [];
	try {
		for (const module of MODULES) {
			if (!moduleAvailable(module)) {
				console.error(`${module}: not installed, skipped (npm install ${module} to compare)`);
				continue;
			}
			console.error(`running ${module}...`);
			rows.push(...(await runModule(module, browser)));
		}
	} finally {
		await browser.close();
	}
	printTable(rows);
	fs.mkdirSync(path.dirname(OUT), { recursive: true });
	fs.writeFileSync(OUT, JSON.stringify({ date: new Date().toISOString(), rows }, null, 2));
	console.error(`JSON: ${OUT}`);
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
