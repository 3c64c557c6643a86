'use strict';

// The browser test kit: a page server on 127.0.0.1 with mediasoup-client bundled by esbuild,
// and headless Debian Chromium driven by playwright-core. Reused by every browser test.
const http = require('node:http');
const path = require('node:path');
const fs = require('node:fs');

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const FLAGS = [
	'--headless',
	'--no-sandbox',
	'--disable-gpu',
	'--disable-quic',
	'--no-first-run',
	'--disable-background-networking',
	'--disable-component-update',
	'--disable-sync',
	'--use-fake-ui-for-media-stream',
	'--use-fake-device-for-media-stream',
	'--allow-loopback-in-peer-connection',
	'--disable-features=WebRtcHideLocalIpsWithMdns',
];

let bundled;

/** mediasoup-client + __test__/browser/client.js as one script (built once per process). */
async function bundle() {
	if (!bundled) {
		const esbuild = require('esbuild');
		bundled = esbuild
			.build({
				entryPoints: [path.join(__dirname, '..', 'browser', 'client.js')],
				bundle: true,
				write: false,
				format: 'iife',
				platform: 'browser',
				target: 'chrome110',
				logLevel: 'silent',
			})
			.then((r) => r.outputFiles[0].text);
	}
	return bundled;
}

/** Serves the test page and its script on 127.0.0.1 (a secure context for getUserMedia). */
async function startPageServer() {
	const script = await bundle();
	const server = http.createServer((req, res) => {
		if (req.url === '/client.js') {
			res.writeHead(200, { 'content-type': 'text/javascript' });
			res.end(script);
		} else {
			res.writeHead(200, { 'content-type': 'text/html' });
			res.end('<!doctype html><html><head><meta charset="utf-8"><title>ferrosoup test</title></head><body><script src="/client.js"></script></body></html>');
		}
	});
	await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
	return { url: `http://127.0.0.1:${server.address().port}/`, close: () => new Promise((r) => server.close(r)) };
}

function chromiumAvailable() {
	return fs.existsSync(CHROMIUM);
}

async function launchBrowser() {
	const { chromium } = require('playwright-core');
	return chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS, timeout: 30000 });
}

/**
 * Opens the test page. `handler(method, data)` answers the page's server requests (connect,
 * produce, ...); its errors go back to the page as `{ error }`.
 */
async function openPage(browser, url, handler) {
	const context = await browser.newContext();
	const page = await context.newPage();
	page.on('pageerror', (e) => console.error('[page error]', e.message));
	await page.exposeFunction('serverRequest', async (method, data) => {
		try {
			return (await handler(method, data)) ?? {};
		} catch (error) {
			return { error: String(error && error.message ? error.message : error) };
		}
	});
	await page.goto(url);
	await page.waitForFunction(() => Boolean(window.ferrosoupTest));
	return page;
}

/** Waits until `predicate()` is true, polling every `intervalMs`; rejects after `timeoutMs`. */
async function waitFor(predicate, timeoutMs, what, intervalMs = 50) {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		if (await predicate()) return;
		await new Promise((r) => setTimeout(r, intervalMs));
	}
	throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/**
 * The usual browser test setup, as node:test hooks: one worker (ports in the given range), one
 * router (`mediaCodecs`, Opus + VP8 by default), the page server and Chromium. Returns the
 * object they are put in once `before` ran.
 */
function useBrowserRouter({ rtcMinPort, rtcMaxPort, mediaCodecs = require('./codecs').opusVp8 }) {
	const { before, after } = require('node:test');
	const env = {};
	before(async () => {
		env.worker = await require('../..').createWorker({ rtcMinPort, rtcMaxPort });
		env.router = await env.worker.createRouter({ mediaCodecs });
		env.pages = await startPageServer();
		env.browser = await launchBrowser();
	});
	after(async () => {
		await env.browser?.close();
		await env.pages?.close();
		env.worker?.close();
	});
	return env;
}

module.exports = { startPageServer, launchBrowser, openPage, waitFor, chromiumAvailable, bundle, useBrowserRouter };
