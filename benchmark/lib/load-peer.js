'use strict';

// The native load generator (publisher, receivers, joining viewers) in a process of its own, at
// a lower priority: on a machine shared with the server, the server's threads then get a CPU
// first, as on a host of their own. `call(method, params)` runs the tools binding's
// `method(JSON.stringify(params))` there (no params: `method()`).
const os = require('node:os');
const { forkServer } = require('./child-server');

if (require.main === module) {
	const binding = require('../../crates/tools-node');
	process.on('message', async ({ id, cmd, params }) => {
		try {
			const result = params === undefined ? binding[cmd]() : await binding[cmd](JSON.stringify(params));
			process.send({ id, result });
		} catch (error) {
			process.send({ id, error: String(error?.message ?? error) });
		}
	});
	process.on('disconnect', () => process.exit(0));
}

/** Starts the load peer process at `nice` (default 10). */
function start({ nice = 10 } = {}) {
	const child = forkServer(__filename);
	try {
		os.setPriority(child.pid, nice);
	} catch {
		// Not permitted: it runs at the server's priority.
	}
	return { call: (method, params) => child.call(method, params === undefined ? {} : { params }), close: child.kill };
}

module.exports = { start };
