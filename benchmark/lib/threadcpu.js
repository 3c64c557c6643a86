'use strict';

// CPU time of the Node (main) thread alone, from /proc (Linux): process.cpuUsage() would
// include the worker threads.
const fs = require('node:fs');

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** Main thread user+system CPU time in milliseconds. */
function mainThreadCpuMs() {
	const stat = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
	// Fields after the command name (which may contain spaces) start at ') '.
	const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
	const utime = Number(fields[11]);
	const stime = Number(fields[12]);
	return ((utime + stime) * 1000) / TICKS_PER_SECOND;
}

module.exports = { mainThreadCpuMs };
