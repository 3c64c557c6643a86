'use strict';

// A throwaway redis-server (Debian's) on a free local port, for the cluster tests.
const { spawn } = require('node:child_process');
const net = require('node:net');
const Redis = require('ioredis');
const { waitFor } = require('./browser');

function freePort() {
	return new Promise((resolve, reject) => {
		const s = net.createServer();
		s.once('error', reject);
		s.listen(0, '127.0.0.1', () => {
			const { port } = s.address();
			s.close(() => resolve(port));
		});
	});
}

/** Starts redis-server; resolves with `{ url, client, stop() }` once it answers PING. */
async function startRedis() {
	const port = await freePort();
	const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
	const url = `redis://127.0.0.1:${port}`;
	const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
	// Refused until the server listens: retried below.
	client.on('error', () => {});
	await waitFor(async () => {
		try {
			await client.connect().catch(() => {});
			return (await client.ping()) === 'PONG';
		} catch {
			return false;
		}
	}, 10000, 'redis-server');
	return {
		url,
		client,
		stop() {
			client.disconnect();
			server.kill();
		},
	};
}

module.exports = { startRedis };
