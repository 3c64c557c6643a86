'use strict';

// The native addon: this platform's prebuilt package (`ferrosoup-linux-x64-gnu`, …) when it is
// installed, else the one built from source next to package.json (`npm run build`, or the
// install step when no prebuilt one loads).
const path = require('node:path');
const { platformKey, PREBUILT } = require('./platform');

/** Tries each place; returns the addon or throws one error naming them all. */
function load() {
	const key = platformKey();
	const tried = [];
	const candidates = [
		() => require(path.join(__dirname, '..', `ferrosoup.${key}.node`)),
		() => require(`ferrosoup-${key}`),
	];
	for (const candidate of candidates) {
		try {
			return candidate();
		} catch (error) {
			tried.push(error.message.split('\n')[0]);
		}
	}
	const error = new Error(
		`ferrosoup: no native addon for ${key} could be loaded (${tried.join('; ')}). ` +
			`Prebuilt ones exist for ${PREBUILT.join(' and ')}; elsewhere, with Rust installed ` +
			'(https://rustup.rs), `npm rebuild ferrosoup` builds it.'
	);
	error.code = 'FERROSOUP_NO_ADDON';
	throw error;
}

module.exports = load();
