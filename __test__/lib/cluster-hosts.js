'use strict';

// Starts a cluster host process (cluster-host.js) and calls its commands over IPC.
const { fork } = require('node:child_process');
const path = require('node:path');

function startHost() {
	const child = fork(path.join(__dirname, 'cluster-host.js'), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
	let next = 0;
	const pending = new Map();
	const ready = new Promise((resolve) => child.once('message', resolve));
	child.on('message', (m) => {
		const p = pending.get(m.id);
		if (!p) return;
		pending.delete(m.id);
		if (m.error) p.reject(new Error(m.error));
		else p.resolve(m.result);
	});
	const call = (cmd, args) => new Promise((resolve, reject) => {
		const id = ++next;
		pending.set(id, { resolve, reject });
		child.send({ id, cmd, args });
	});
	return { child, ready, call };
}

module.exports = { startHost };
