'use strict';

/**
 * A benchmark server in its own process (so that its CPU and memory accounting is its own),
 * driven over IPC: `call(cmd, data)` resolves with what its handler returned.
 */
const { fork } = require('node:child_process');

/** `cpus` (a taskset list, e.g. '0'): the server's threads on those CPUs only. */
function forkServer(script, { cpus } = {}) {
	const child = fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
	if (cpus != null) {
		// Its main thread now: threads it starts later inherit the affinity.
		const r = require('node:child_process').spawnSync('taskset', ['-a', '-p', '-c', String(cpus), String(child.pid)]);
		if (r.status !== 0) throw new Error(`taskset failed: ${r.stderr}`);
	}
	let next = 0;
	const pending = new Map();
	child.on('message', (m) => {
		const p = pending.get(m.id);
		pending.delete(m.id);
		if (m.error) p.reject(new Error(m.error));
		else p.resolve(m.result);
	});
	const call = (cmd, data = {}) => new Promise((resolve, reject) => {
		const id = next++;
		pending.set(id, { resolve, reject });
		child.send({ id, cmd, ...data });
	});
	return { call, pid: child.pid, kill: () => child.kill('SIGKILL') };
}

module.exports = { forkServer };
