'use strict';

// Before `npm test`: the browser, media and cluster tests need Chromium, ffmpeg and redis-server
// from the system.
// Stop at once, naming the command that installs them, rather than failing test by test.
const fs = require('node:fs');
const { spawnSync } = require('node:child_process');

const chromium = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const missing = [];
if (!fs.existsSync(chromium)) missing.push(['chromium', `Chromium (looked for ${chromium}; CHROMIUM_PATH names another)`]);
for (const tool of ['ffmpeg', 'ffprobe']) {
	if (spawnSync(tool, ['-version'], { stdio: 'ignore' }).error) missing.push(['ffmpeg', `${tool}`]);
}
if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).error) missing.push(['redis-server', 'redis-server']);
if (missing.length) {
	const packages = [...new Set(missing.map(([p]) => p))];
	console.error(`npm test needs ${missing.map(([, what]) => what).join(', ')}.`);
	console.error(`On Debian/Ubuntu: sudo apt-get install -y ${packages.join(' ')}   (or run bash .ci/run, which installs them)`);
	process.exit(1);
}
