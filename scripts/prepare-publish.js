'use strict';

// Run by the release workflow just before `npm publish`: lists every platform package as an
// optional dependency at this version. (Not in the repository's package.json, so that
// `npm install` on a clone never asks the registry for unpublished packages.)
const fs = require('node:fs');
const path = require('node:path');
const { PREBUILT } = require('../lib/platform');

const file = path.join(__dirname, '..', 'package.json');
const pkg = JSON.parse(fs.readFileSync(file, 'utf8'));
pkg.optionalDependencies = Object.fromEntries(PREBUILT.map((key) => [`ferrosoup-${key}`, pkg.version]));
fs.writeFileSync(file, `${JSON.stringify(pkg, null, 2)}\n`);
console.log(pkg.optionalDependencies);
