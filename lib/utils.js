'use strict';

const { randomUUID, randomInt } = require('node:crypto');

function clone(value) {
	if (value === undefined) {
		return undefined;
	}
	return structuredClone(value);
}

function generateUUIDv4() {
	return randomUUID();
}

function generateRandomNumber() {
	return randomInt(100_000_000, 999_999_999);
}

function checkAppData(appData) {
	if (appData && typeof appData !== 'object') {
		throw new TypeError('if given, appData must be an object');
	}
}

module.exports = { clone, generateUUIDv4, generateRandomNumber, checkAppData };
