'use strict';

// npm's install step: nothing to do when this platform's prebuilt addon (an optional
// dependency) or an already built one loads; otherwise build from source with cargo, or say
// plainly what is missing.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { platformKey, PREBUILT } = require('../lib/platform');

const root = path.join(__dirname, '..');
const key = platformKey();

function loads() {
	try {
		require('../lib/native');
		return true;
	} catch (error) {
		if (error.code !== 'FERROSOUP_NO_ADDON') throw error;
		return false;
	}
}

if (process.env.FERROSOUP_FORCE_BUILD !== '1' && loads()) {
	process.exit(0);
}
const rustc = spawnSync('rustc', ['-vV'], { encoding: 'utf8' });
const cargo = spawnSync('cargo', ['--version'], { encoding: 'utf8' });
if (rustc.status !== 0 || cargo.status !== 0) {
	console.error(
		`ferrosoup: no prebuilt addon for ${key} is installed` +
			(PREBUILT.includes(key) ? ` (the optional dependency ferrosoup-${key} is missing: was it omitted?)` : ` (prebuilt ones: ${PREBUILT.join(', ')})`) +
			', and it cannot be built here: cargo (Rust) is not on PATH. Install Rust from https://rustup.rs, then run `npm rebuild ferrosoup`.'
	);
	process.exit(1);
}
const host = /^host: (\S+)/m.exec(rustc.stdout)[1];
console.error(`ferrosoup: building the addon for ${key} from source (cargo, release; a few minutes)…`);
// The same target directory and triple as `npm run build`, so later builds and tests reuse it.
const build = spawnSync('cargo', ['build', '--release', '-p', 'ferrosoup', '--target', host], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) {
	console.error('ferrosoup: cargo build failed (see above).');
	process.exit(build.status ?? 1);
}
const targetDir = process.env.CARGO_TARGET_DIR || path.join(root, 'target');
const lib = process.platform === 'darwin' ? 'libferrosoup.dylib' : process.platform === 'win32' ? 'ferrosoup.dll' : 'libferrosoup.so';
fs.copyFileSync(path.join(targetDir, host, 'release', lib), path.join(root, `ferrosoup.${key}.node`));
if (!loads()) {
	console.error('ferrosoup: the addon was built but does not load.');
	process.exit(1);
}
