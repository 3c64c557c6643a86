'use strict';

// `cargo test` for the workspace with the same target triple `napi build --platform` uses, so
// the tests reuse the addon build's dependencies instead of compiling them a second time (in
// target/release instead of target/<triple>/release).
const { spawnSync } = require('node:child_process');

const rustc = spawnSync('rustc', ['-vV'], { encoding: 'utf8' });
if (rustc.status !== 0) {
	console.error('cargo-test: rustc not found');
	process.exit(1);
}
const host = /^host: (\S+)/m.exec(rustc.stdout)[1];
const r = spawnSync('cargo', ['test', '--release', '--workspace', '--target', host, ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(r.status ?? 1);
