'use strict';

// Synchronous ORTC rules, computed in Rust on the calling thread. Values cross as JSON.
const native = require('./native');
const errors = require('../errors');

const ERROR_CLASSES = {
	TypeError,
	UnsupportedError: errors.UnsupportedError,
	NotFoundError: errors.NotFoundError,
	InvalidStateError: errors.InvalidStateError,
	WorkerClosedError: errors.WorkerClosedError,
	Error,
};

function makeError(className, reason) {
	const ErrorClass = ERROR_CLASSES[className] ?? Error;
	return new ErrorClass(reason);
}

function unwrap(json) {
	const result = JSON.parse(json);
	if (result.error) {
		throw makeError(result.error, result.reason);
	}
	return result.value;
}

function toJson(value, what) {
	try {
		return JSON.stringify(value);
	} catch (error) {
		throw new TypeError(`${what} cannot be serialized: ${error.message}`);
	}
}

function generateRouterRtpCapabilities(mediaCodecs) {
	return unwrap(
		native.generateRouterRtpCapabilities(
			mediaCodecs === undefined ? undefined : toJson(mediaCodecs, 'mediaCodecs')
		)
	);
}

/** canConsume() for a producer: its consumable parameters are serialized once. */
function canConsumeProducer(producer, rtpCapabilities) {
	if (rtpCapabilities === undefined || rtpCapabilities === null || typeof rtpCapabilities !== 'object') {
		throw new TypeError('caps is not an object');
	}
	return unwrap(native.canConsume(producer.consumableRtpParametersJson, toJson(rtpCapabilities, 'rtpCapabilities')));
}

function canConsume(consumableRtpParameters, rtpCapabilities) {
	if (rtpCapabilities === undefined || rtpCapabilities === null || typeof rtpCapabilities !== 'object') {
		throw new TypeError('caps is not an object');
	}
	return unwrap(
		native.canConsume(
			toJson(consumableRtpParameters, 'consumableRtpParameters'),
			toJson(rtpCapabilities, 'rtpCapabilities')
		)
	);
}

/** Validates in place, filling defaults, as mediasoup's function does. */
function validateAndNormalize(kind, value) {
	if (typeof value !== 'object' || value === null) {
		throw new TypeError(`${kind === 'capabilities' ? 'caps' : 'params'} is not an object`);
	}
	const result = JSON.parse(native.validateAndNormalize(kind, toJson(value, kind)));
	for (const key of Object.keys(value)) {
		delete value[key];
	}
	Object.assign(value, result.value);
	if (result.error) {
		throw makeError(result.error, result.reason);
	}
}

function validateAndNormalizeRtpCapabilities(caps) {
	validateAndNormalize('capabilities', caps);
}

function validateAndNormalizeRtpParameters(params) {
	validateAndNormalize('parameters', params);
}

module.exports = {
	makeError,
	generateRouterRtpCapabilities,
	canConsume,
	canConsumeProducer,
	validateAndNormalizeRtpCapabilities,
	validateAndNormalizeRtpParameters,
};
