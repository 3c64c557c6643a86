'use strict';

// mediasoup 3.27.1's pure-JS modules, as a reference (`npm run oracle` installs them).
const path = require('node:path');

const root = path.join(__dirname, '..', 'oracle', 'node_modules', 'mediasoup', 'node', 'lib');

function load(name) {
	try {
		return require(path.join(root, name));
	} catch (error) {
		throw new Error(`mediasoup oracle missing (run "npm run oracle"): ${error.message}`);
	}
}

/**
 * ferrosoup's one deliberate difference in capabilities: the AV1 dependency descriptor is
 * sendrecv (mediasoup 3.27: recvonly), so that viewers get it (Chromium assembles AV1 frames of
 * several spatial layers only with it). Applied to mediasoup's answers before comparing.
 */
const DD = 'https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension';
function withFerrosoupDifferences(caps) {
	for (const ext of caps?.headerExtensions ?? []) {
		if (ext.uri === DD) ext.direction = 'sendrecv';
	}
	return caps;
}

module.exports = {
	root,
	withFerrosoupDifferences,
	get ortc() {
		const ortc = load('ortc.js');
		return {
			...ortc,
			generateRouterRtpCapabilities: (...args) => withFerrosoupDifferences(ortc.generateRouterRtpCapabilities(...args)),
		};
	},
	get scalabilityModes() {
		return load('scalabilityModesUtils.js');
	},
	get supportedRtpCapabilities() {
		return withFerrosoupDifferences(structuredClone(load('supportedRtpCapabilities.js').supportedRtpCapabilities));
	},
};
