'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { once } = require('node:events');
const { spawn, execFileSync } = require('node:child_process');
const path = require('node:path');
const fs = require('node:fs');
const os = require('node:os');

// Enables the worker's test-only panic request for workers created from here on.
process.env.FERROSOUP_TEST_HOOKS = '1';
const ferrosoup = require('..');
const { WorkerClosedError } = ferrosoup.errors;

test('createWorker() with defaults', async () => {
	const worker = await ferrosoup.createWorker();
	const other = await ferrosoup.createWorker();
	// A worker's pid is its thread's kernel id: one of this process's tasks, one per worker.
	assert.ok(fs.existsSync(`/proc/${process.pid}/task/${worker.pid}`), `${worker.pid} is a thread of this process`);
	assert.notEqual(worker.pid, process.pid);
	assert.notEqual(worker.pid, other.pid);
	// Its priority is the worker thread's alone (as a mediasoup worker process's would be).
	const os = require('node:os');
	const own = os.getPriority(process.pid);
	os.setPriority(other.pid, Math.min(19, own + 3));
	assert.equal(os.getPriority(other.pid), Math.min(19, own + 3));
	assert.equal(os.getPriority(process.pid), own, "the Node thread's is unchanged");
	assert.equal(os.getPriority(worker.pid), own);
	other.close();
	assert.equal(worker.closed, false);
	assert.equal(worker.died, false);
	assert.equal(worker.subprocessClosed, false);
	assert.deepStrictEqual(worker.appData, {});
	worker.appData = { foo: 1 };
	assert.deepStrictEqual(worker.appData, { foo: 1 });
	worker.close();
});

test('createWorker() settings are validated like mediasoup\'s', async () => {
	const bad = [
		{ logLevel: 'chatty' },
		{ rtcMinPort: 2000, rtcMaxPort: 1000 },
		{ rtcMinPort: 0 },
		{ rtcMaxPort: 70000 },
		{ rtcMinPort: 1000.5 },
		{ dtlsCertificateFile: '/nonexistent/cert.pem', dtlsPrivateKeyFile: '/nonexistent/key.pem' },
		{ dtlsCertificateFile: __filename },
		{ appData: 'x' },
	];
	for (const settings of bad) {
		await assert.rejects(ferrosoup.createWorker(settings), TypeError, JSON.stringify(settings));
	}
	// Wrong types are ignored (mediasoup never passes them to its worker); unknown tags too.
	const worker = await ferrosoup.createWorker({
		logLevel: 3, logTags: ['info', 'nope', 5], rtcMinPort: 'x', appData: { a: 1 },
	});
	assert.deepStrictEqual(worker.appData, { a: 1 });
	worker.close();
	// Unparsable certificate files are a TypeError; a real ECDSA P-256 pair is used.
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferrosoup-'));
	fs.writeFileSync(path.join(dir, 'junk.pem'), 'x');
	await assert.rejects(
		ferrosoup.createWorker({ dtlsCertificateFile: path.join(dir, 'junk.pem'), dtlsPrivateKeyFile: path.join(dir, 'junk.pem') }),
		TypeError
	);
	const cert = path.join(dir, 'c.pem');
	const key = path.join(dir, 'k.pem');
	execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
		'-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=ferrosoup-test'], { stdio: 'ignore' });
	const w2 = await ferrosoup.createWorker({ dtlsCertificateFile: cert, dtlsPrivateKeyFile: key });
	const r = await w2.createRouter();
	const t = await r.createWebRtcTransport({ listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }] });
	// The announced fingerprint is the file's certificate's.
	const expected = execFileSync('openssl', ['x509', '-in', cert, '-noout', '-fingerprint', '-sha256']).toString().trim().split('=')[1];
	assert.equal(t.dtlsParameters.fingerprints.find((f) => f.algorithm === 'sha-256').value, expected);
	w2.close();
});

test('dump(), getResourceUsage(), updateSettings()', async () => {
	const worker = await ferrosoup.createWorker();
	const router = await worker.createRouter();
	const { requestWait, requestAnswer, requestService, holds, ...dump } = await worker.dump();
	// ferrosoup: how long the requests since the last dump waited for the worker thread (the
	// createRouter and this dump), and the worker's time per kind of request handled (the dump
	// itself is counted in the next one).
	assert.equal(requestWait.count, 2);
	assert.deepStrictEqual(Object.keys(requestService), ['WORKER_CREATE_ROUTER']);
	const created = requestService.WORKER_CREATE_ROUTER;
	assert.equal(created.count, 1);
	assert.ok(created.totalUs <= created.maxUs && created.cpuUs >= 0, JSON.stringify(created));
	assert.deepStrictEqual(Object.keys((await worker.dump()).requestService), ['WORKER_DUMP']);
	assert.ok(requestWait.p50Us <= requestWait.p99Us && requestWait.p99Us <= requestWait.maxUs);
	// ... and until their answers left for the app (the createRouter's; this dump's is not out yet).
	assert.equal(requestAnswer.count, 1);
	assert.ok(requestAnswer.p50Us <= requestAnswer.p99Us && requestAnswer.p99Us <= requestAnswer.maxUs, JSON.stringify(requestAnswer));
	assert.equal((await worker.dump()).requestWait.latest, 1, 'counted afresh after each dump');
	// ferrosoup: the stretches the thread worked without a look at requests, and the longest
	// piece of work by kind (here: answering and flushing).
	assert.ok(holds.count >= 1 && holds.maxUs >= 0 && holds.over1ms >= 0, JSON.stringify(holds));
	assert.ok(holds.work.flush.count >= 1, JSON.stringify(holds));
	assert.deepStrictEqual(dump, {
		pid: worker.pid,
		webRtcServerIds: [],
		routerIds: [router.id],
		channelMessageHandlers: { channelRequestHandlers: [router.id], channelNotificationHandlers: [] },
		rtpPacketsSent: 0,
		udpDatagramsSent: 0,
		udpSendSyscalls: 0,
		udpGsoDatagrams: 0,
		udpGsoMessages: 0,
		udpSendFailures: 0,
		tcpFramesDropped: 0,
		pipeMessagesDropped: 0,
		eventsShed: 0,
	});
	const usage = await worker.getResourceUsage();
	const keys = ['ru_utime', 'ru_stime', 'ru_maxrss', 'ru_ixrss', 'ru_idrss', 'ru_isrss', 'ru_minflt',
		'ru_majflt', 'ru_nswap', 'ru_inblock', 'ru_oublock', 'ru_msgsnd', 'ru_msgrcv', 'ru_nsignals',
		'ru_nvcsw', 'ru_nivcsw'];
	assert.deepStrictEqual(Object.keys(usage), keys);
	for (const k of keys) assert.equal(typeof usage[k], 'number', k);
	assert.ok(usage.ru_maxrss > 0);
	await worker.updateSettings({ logLevel: 'debug', logTags: ['ice'] });
	await worker.updateSettings();
	await assert.rejects(worker.updateSettings({ logLevel: 'loud' }), TypeError);
	await assert.rejects(worker.createWebRtcServer({ listenInfos: [] }), { name: 'TypeError', message: 'wrong listenInfos (empty array)' });
	worker.close();
});

test('close(): closed, observer close, routers workerclose, subprocessclose, requests rejected', async () => {
	const worker = await ferrosoup.createWorker();
	const router = await worker.createRouter();
	const events = [];
	worker.observer.on('close', () => events.push('worker.observer:close'));
	router.on('workerclose', () => events.push('router:workerclose'));
	router.observer.on('close', () => events.push('router.observer:close'));
	const pending = worker.dump();
	const subprocessclose = once(worker, 'subprocessclose');
	worker.close();
	worker.close(); // idempotent
	assert.equal(worker.closed, true);
	assert.equal(router.closed, true);
	assert.deepStrictEqual(events, ['router:workerclose', 'router.observer:close', 'worker.observer:close']);
	await assert.rejects(pending, WorkerClosedError);
	await assert.rejects(worker.dump(), WorkerClosedError);
	await assert.rejects(worker.createRouter(), WorkerClosedError);
	await subprocessclose;
	assert.equal(worker.subprocessClosed, true);
	assert.equal(worker.died, false);
});

test('a panicking worker thread emits died then subprocessclose; Node and other workers go on', async () => {
	const victim = await ferrosoup.createWorker();
	const survivor = await ferrosoup.createWorker();
	const router = await victim.createRouter();
	const events = [];
	router.on('workerclose', () => events.push('router:workerclose'));
	victim.on('subprocessclose', () => events.push('subprocessclose'));
	victim.observer.on('close', () => events.push('observer:close'));
	const died = once(victim, 'died');
	victim.on('died', () => events.push('died'));
	const request = victim.panicForTesting();
	const [error] = await died;
	assert.ok(error instanceof Error);
	assert.match(error.message, /panic requested by a test/);
	assert.deepStrictEqual(events, ['router:workerclose', 'died', 'subprocessclose', 'observer:close']);
	assert.equal(victim.died, true);
	assert.equal(victim.closed, true);
	assert.equal(victim.subprocessClosed, true);
	await assert.rejects(request, WorkerClosedError);
	// The other worker still answers.
	const r2 = await survivor.createRouter();
	assert.equal(typeof r2.id, 'string');
	survivor.close();
});

function runNode(script, timeoutMs) {
	return new Promise((resolve) => {
		const child = spawn(process.execPath, ['-e', script], {
			cwd: path.join(__dirname, '..'),
			env: { ...process.env, FERROSOUP_TEST_HOOKS: '1' },
			stdio: ['ignore', 'pipe', 'pipe'],
		});
		let out = '';
		child.stdout.on('data', (d) => (out += d));
		child.stderr.on('data', (d) => (out += d));
		const timer = setTimeout(() => {
			child.kill('SIGKILL');
			resolve({ exited: false, out });
		}, timeoutMs);
		child.on('exit', (code) => {
			clearTimeout(timer);
			resolve({ exited: true, code, out });
		});
	});
}

test('a live worker keeps the process alive; after close() or death nothing does', async () => {
	const alive = await runNode(
		"require('./').createWorker().then(() => console.log('up'))",
		1500
	);
	assert.equal(alive.exited, false, 'process with an open worker must stay up');
	assert.match(alive.out, /up/);
	const closed = await runNode(
		"require('./').createWorker().then(async (w) => { await w.createRouter(); w.close(); console.log('closed') })",
		10000
	);
	assert.equal(closed.exited, true, closed.out);
	assert.equal(closed.code, 0);
	const died = await runNode(
		"require('./').createWorker().then((w) => { w.on('died', (e) => console.log('died', e.message)); w.panicForTesting().catch(() => {}) })",
		10000
	);
	assert.equal(died.exited, true, died.out);
	assert.equal(died.code, 0, died.out);
	assert.match(died.out, /died worker thread panicked/);
});
