'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const oracle = require('./lib/oracle');
// Read mediasoup's table before anything normalizes it in place.
const mediasoupSupported = structuredClone(oracle.supportedRtpCapabilities);
const ferrosoup = require('..');

test('exports the mediasoup module surface', () => {
	for (const name of ['createWorker', 'setLogEventListeners', 'getSupportedRtpCapabilities', 'parseScalabilityMode']) {
		assert.equal(typeof ferrosoup[name], 'function', name);
	}
	assert.equal(ferrosoup.version, require('../package.json').version);
	// The mediasoup API level it implements: the oracle's version.
	assert.equal(ferrosoup.mediasoupVersion, require('./oracle/node_modules/mediasoup/package.json').version);
	assert.equal(typeof ferrosoup.observer.on, 'function');
	assert.equal(typeof ferrosoup.types, 'object');
	assert.equal(typeof ferrosoup.extras.EnhancedEventEmitter, 'function');
	assert.equal(typeof ferrosoup.ortc.generateRouterRtpCapabilities, 'function');
});

test('errors: classes with names, also from ferrosoup/errors', () => {
	const fromSubpath = require('ferrosoup/errors');
	for (const name of ['UnsupportedError', 'InvalidStateError', 'WorkerClosedError', 'NotFoundError']) {
		const ErrorClass = ferrosoup.errors[name];
		assert.equal(fromSubpath[name], ErrorClass, name);
		const e = new ErrorClass('boom');
		assert.ok(e instanceof Error);
		assert.equal(e.name, name);
		assert.equal(e.message, 'boom');
		assert.match(e.stack, /boom/);
	}
});

test('getSupportedRtpCapabilities() has the same content as mediasoup\'s and is a fresh copy', () => {
	const caps = ferrosoup.getSupportedRtpCapabilities();
	assert.deepStrictEqual(caps, mediasoupSupported);
	caps.codecs.length = 0;
	assert.ok(ferrosoup.getSupportedRtpCapabilities().codecs.length > 20);
});

test('parseScalabilityMode() agrees with mediasoup', () => {
	const inputs = [undefined, null, '', 'L1T1', 'L1T3', 'S3T3', 'L3T3_KEY', 'L3T3_KEY_SHIFT', 'L12T10',
		'L123T1', 'L0T1', 'L1T0', 'S2T1h', 'l1t3', 'foo', 'L1T3 ', ' L1T3', 'L9T99'];
	for (const input of inputs) {
		assert.deepStrictEqual(
			ferrosoup.parseScalabilityMode(input),
			oracle.scalabilityModes.parseScalabilityMode(input),
			String(input)
		);
	}
});

test('observer emits newworker; native logs reach setLogEventListeners by level and tag', async () => {
	const seen = [];
	ferrosoup.observer.once('newworker', (w) => seen.push(w));
	const debugLogs = [];
	ferrosoup.setLogEventListeners({ ondebug: (namespace, log) => debugLogs.push({ namespace, log }) });
	try {
		const worker = await ferrosoup.createWorker({ logLevel: 'debug', logTags: ['info'] });
		assert.deepStrictEqual(seen, [worker]);
		await worker.dump();
		const native = debugLogs.filter((l) => l.namespace === 'ferrosoup:Channel');
		assert.ok(native.some((l) => /WORKER_DUMP/.test(l.log)), JSON.stringify(native));
		assert.ok(native.every((l) => l.log.startsWith(`[pid:${process.pid}, worker:`)));
		// Same request at 'warn': no native debug lines.
		await worker.updateSettings({ logLevel: 'warn' });
		debugLogs.length = 0;
		await worker.dump();
		assert.equal(debugLogs.filter((l) => l.namespace === 'ferrosoup:Channel').length, 0);
		// Back to debug without the 'info' tag: tagged lines stay silent.
		await worker.updateSettings({ logLevel: 'debug', logTags: [] });
		debugLogs.length = 0;
		await worker.dump();
		assert.equal(debugLogs.filter((l) => /WORKER_DUMP/.test(l.log)).length, 0);
		worker.close();
	} finally {
		ferrosoup.setLogEventListeners();
	}
	// JS-side logs too.
	assert.ok(true);
});

test('setLogEventListeners() with no arguments stops log events', async () => {
	const logs = [];
	ferrosoup.setLogEventListeners({ ondebug: (ns, log) => logs.push(log) });
	ferrosoup.setLogEventListeners();
	const worker = await ferrosoup.createWorker({ logLevel: 'debug', logTags: ['info'] });
	await worker.dump();
	worker.close();
	assert.deepStrictEqual(logs.filter((l) => !/setLogEventListeners/.test(l)), []);
});
