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

module.exports = {
	root,
	get ortc() {
		return load('ortc.js');
	},
	get scalabilityModes() {
		return load('scalabilityModesUtils.js');
	},
	get supportedRtpCapabilities() {
		return load('supportedRtpCapabilities.js').supportedRtpCapabilities;
	},
};
