'use strict';

/**
 * Simulcast switching as viewers see it: one Chromium page publishes a 1280×720 camera in three
 * encodings (scaleResolutionDownBy 4/2/1); V Chromium viewers each switch spatial layers
 * 2 → 0 → 2 → 1 on the flowing stream. Printed per switch: time from setPreferredLayers() to
 * the first frame decoded at the new size, and the viewers' freeze counts (Chromium's
 * inbound-rtp freezeCount) over the run.
 *
 *   node benchmark/simulcast.js              # V = 4
 *   node benchmark/simulcast.js --viewers 8 --out /tmp/simulcast.json
 */
const fs = require('node:fs');
const path = require('node:path');
const ferrosoup = require('..');
const kit = require('../__test__/lib/browser');
const media = require('../__test__/lib/media');
const codecs = require('../__test__/lib/codecs');
const { summarize } = require('./lib/stats');

function arg(name, fallback) {
	const i = process.argv.indexOf(`--${name}`);
	return i > 0 ? process.argv[i + 1] : fallback;
}
const VIEWERS = Number(arg('viewers', '4'));
const OUT = arg('out', path.join(__dirname, 'results', 'simulcast.json'));
const WIDTHS = [320, 640, 1280];
const STEPS = [0, 2, 1];

async function main() {
	const worker = await ferrosoup.createWorker({ rtcMinPort: 45000, rtcMaxPort: 45999 });
	const router = await worker.createRouter({ mediaCodecs: codecs.opusVp8 });
	const pages = await kit.startPageServer();
	const browser = await kit.launchBrowser();
	const on = { browser, url: pages.url, router };
	try {
		const pub = await media.publish({
			...on,
			kinds: ['video'],
			clientOptions: { video: { capture: { width: 1280, height: 720 }, encodings: [4, 2, 1].map((scaleResolutionDownBy) => ({ scaleResolutionDownBy })) } },
		});
		const producer = pub.producers.video;
		await kit.waitFor(async () => (await producer.getStats()).filter((s) => s.bitrate > 0).length === 3, 60000, 'three active layers');
		const viewers = [];
		for (let i = 0; i < VIEWERS; i++) viewers.push(await media.view({ ...on, producers: { video: producer } }));
		await Promise.all(viewers.map((v) => kit.waitFor(async () => (await v.received('video')).frameWidth === 1280, 60000, 'top layer')));
		const freezesBefore = await Promise.all(viewers.map(async (v) => (await v.received('video')).freezeCount));
		const switches = [];
		for (const layer of STEPS) {
			const times = await Promise.all(viewers.map(async (v) => {
				const t0 = Date.now();
				await v.consumers.video.setPreferredLayers({ spatialLayer: layer });
				await kit.waitFor(async () => (await v.received('video')).frameWidth === WIDTHS[layer], 30000, `layer ${layer}`);
				return Date.now() - t0;
			}));
			switches.push({ to: layer, ms: summarize(times) });
		}
		const freezes = (await Promise.all(viewers.map(async (v) => (await v.received('video')).freezeCount))).map((f, i) => f - freezesBefore[i]);
		const result = { viewers: VIEWERS, switches, freezes };
		console.log(`| switch to layer | viewers | p50 ms | p90 ms | max ms |`);
		console.log('|---|---|---|---|---|');
		for (const s of switches) console.log(`| ${s.to} (${WIDTHS[s.to]} wide) | ${VIEWERS} | ${s.ms.p50} | ${s.ms.p90} | ${s.ms.max} |`);
		console.log(`freezes per viewer over the run: ${freezes.join(', ')}`);
		fs.mkdirSync(path.dirname(OUT), { recursive: true });
		fs.writeFileSync(OUT, JSON.stringify(result, null, 2));
	} finally {
		await browser.close();
		await pages.close();
		worker.close();
	}
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
