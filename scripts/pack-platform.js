'use strict';

// Packs this platform's prebuilt package (npm/<platform>/) from the addon `npm run build`
// made: `node scripts/pack-platform.js [out dir]` prints the tarball's path. The release
// workflow does the same per platform, then publishes.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { platformKey } = require('../lib/platform');

const root = path.join(__dirname, '..');
const key = process.env.FERROSOUP_PLATFORM || platformKey();
const dir = path.join(root, 'npm', key);
const addon = `ferrosoup.${key}.node`;
if (!fs.existsSync(path.join(dir, 'package.json'))) {
	console.error(`no package for ${key} under npm/`);
	process.exit(1);
}
if (!fs.existsSync(path.join(root, addon))) {
	console.error(`${addon} is missing: run \`npm run build\` first`);
	process.exit(1);
}
// Same version as ferrosoup.
const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
pkg.version = require('../package.json').version;
fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
fs.copyFileSync(path.join(root, addon), path.join(dir, addon));
const out = path.resolve(process.argv[2] || root);
const name = execFileSync('npm', ['pack', '--silent', '--pack-destination', out], { cwd: dir, encoding: 'utf8' }).trim().split('\n').pop();
fs.rmSync(path.join(dir, addon));
console.log(path.join(out, name));
