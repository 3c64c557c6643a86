'use strict';

/**
 * Hostile load: attacks from a participant of a room (or someone spoofing a connected peer)
 * against a live worker that forwards a broadcast to a legitimate viewer. Per attack: what the
 * server sent the attacker beyond its normal stream, per byte the attacker sent (amplification)
 * and relative to that normal stream (a viewer's NACKs are small and legitimately ask for whole
 * packets, so for them the bound is the stream: target ≤ 1); the server's RSS growth (target
 * bounded, < 20 MiB); the legitimate viewer's packets/s before and during; the worker's request
 * latency.
 *
 *   node benchmark/hostile.js                      # every attack, 10 s each
 *   node benchmark/hostile.js --attacks nack-flood,pli-flood --seconds 5
 */
const fs = require('node:fs');
const path = require('node:path');
const { forkServer } = require('./lib/child-server');
const tools = require('../crates/tools-node');

function arg(name, fallback) {
	const i = process.argv.indexOf(`--${name}`);
	return i > 0 ? process.argv[i + 1] : fallback;
}
const ALL = ['nack-flood', 'pli-flood', 'forged-srtp', 'sequence-gaps', 'twcc-gaps', 'dtls-flood', 'tcp-idle', 'garbage'];
const ATTACKS = arg('attacks', ALL.join(',')).split(',');
const SECONDS = Number(arg('seconds', '10'));
const OUT = arg('out', path.join(__dirname, 'results', 'hostile.json'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const server = () => forkServer(path.join(__dirname, 'lib', 'hostile-server.js'));

async function runAttack(kind) {
	const s = server();
	try {
		const dtlsParameters = JSON.parse(tools.nativeViewerDtlsParameters());
		const total = (SECONDS * 2 + 20) * 1000;
		const pub = await s.call('setup', { dtlsParameters });
		tools.nativePublish(JSON.stringify({ ...pub, videoSsrc: 11111111, audioSsrc: 22222222, videoKbps: 1500, durationMs: total })).catch(() => {});
		const legit = await s.call('viewer', { dtlsParameters, name: 'legit' });
		tools.nativeReceiverCount(JSON.stringify({ ...legit, durationMs: total })).catch(() => {});
		let target;
		const viewerAttack = ['nack-flood', 'pli-flood', 'forged-srtp'].includes(kind);
		if (viewerAttack) {
			target = await s.call('viewer', { dtlsParameters, name: 'attacker' });
		} else if (['sequence-gaps', 'twcc-gaps'].includes(kind)) {
			target = await s.call('publisher', { dtlsParameters, name: 'attacker', ssrc: 33333333 });
		} else {
			target = await s.call('bare', { name: 'attacker' });
		}
		const names = ['legit', 'attacker'];
		// Attackers that connect first behave like any peer for a while (the baseline), then
		// attack for SECONDS.
		const attacking = tools.nativeAttack(JSON.stringify({ ...target, kind, warmupMs: 6000, durationMs: SECONDS * 1000, connections: 4000 }));
		await sleep(3000);
		const b0 = await s.call('usage', { names });
		await sleep(2000);
		const b1 = await s.call('usage', { names });
		await sleep(1000);
		const latencies = [];
		let peakRss = b1.rss;
		let u = b1;
		const ends = Date.now() + SECONDS * 1000;
		while (Date.now() < ends) {
			await sleep(500);
			u = await s.call('usage', { names });
			latencies.push(u.requestMs);
			peakRss = Math.max(peakRss, u.rss);
		}
		const attacker = JSON.parse(await attacking);
		const a1 = await s.call('usage', { names });
		peakRss = Math.max(peakRss, a1.rss);
		const rate = (x, y, f) => (f(y) - f(x)) / ((y.at - x.at) / 1000);
		const sentTo = (x) => x.transports.attacker?.bytesSent ?? 0;
		const legitPkts = (x) => x.transports.legit?.packetsSent ?? 0;
		const attackSeconds = (a1.at - b1.at) / 1000;
		const normal = rate(b0, b1, sentTo) * attackSeconds;
		const extra = Math.max(0, sentTo(a1) - sentTo(b1) - normal);
		latencies.sort((x, y) => x - y);
		return {
			attack: kind,
			attackerSentKiB: Math.round(attacker.sentBytes / 1024),
			extraSentToAttackerKiB: Math.round(extra / 1024),
			amplification: attacker.sentBytes > 0 ? Math.round((extra / attacker.sentBytes) * 1000) / 1000 : 0,
			// Only a viewer has a normal stream to compare with.
			extraPerStreamByte: viewerAttack && normal > 0 ? Math.round((extra / normal) * 100) / 100 : 'n/a',
			rssGrowthMiB: Math.round(((peakRss - b1.rss) / 1048576) * 10) / 10,
			legitPpsBefore: Math.round(rate(b0, b1, legitPkts)),
			legitPpsDuring: Math.round(rate(b1, a1, legitPkts)),
			requestMsP50: latencies[Math.floor(latencies.length / 2)]?.toFixed(2),
			requestMsMax: latencies[latencies.length - 1]?.toFixed(2),
			tcpLeftOpen: kind === 'tcp-idle' ? attacker.tcpOpen : undefined,
			drops: a1.transports.attacker?.drops,
		};
	} finally {
		s.kill();
	}
}

async function main() {
	const rows = [];
	for (const kind of ATTACKS) {
		try {
			const r = await runAttack(kind);
			rows.push(r);
			console.error(`  ${kind}: amplification ${r.amplification}, RSS +${r.rssGrowthMiB} MiB, legit ${r.legitPpsBefore} → ${r.legitPpsDuring} pkt/s`);
		} catch (error) {
			console.error(`  ${kind}: failed (${error.message})`);
		}
	}
	console.log('| attack | attacker sent (KiB) | extra sent to attacker (KiB) | per attacker byte | per byte of its normal stream | server RSS growth (MiB) | legit viewer pkt/s before → during | request latency p50 / max (ms) |');
	console.log('|---|---|---|---|---|---|---|---|');
	for (const r of rows) {
		const extra = r.attack === 'tcp-idle' ? `${r.extraSentToAttackerKiB} (${r.tcpLeftOpen} of 4000 connections left open)` : r.extraSentToAttackerKiB;
		console.log(`| ${r.attack} | ${r.attackerSentKiB} | ${extra} | ${r.amplification} | ${r.extraPerStreamByte} | ${r.rssGrowthMiB} | ${r.legitPpsBefore} → ${r.legitPpsDuring} | ${r.requestMsP50} / ${r.requestMsMax} |`);
	}
	fs.mkdirSync(path.dirname(OUT), { recursive: true });
	fs.writeFileSync(OUT, JSON.stringify({ date: new Date().toISOString(), seconds: SECONDS, rows }, null, 2));
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
