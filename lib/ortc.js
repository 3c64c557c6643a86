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

/** Answers of canConsume() per producer, by the capabilities' JSON (a room's viewers send a few
 * distinct ones: the check, ~60 µs of the Node thread per join, runs once for each). */
const canConsumeAnswers = new WeakMap();
const CAN_CONSUME_REMEMBERED = 16;

/** canConsume() for a producer: its consumable parameters are serialized once. */
function canConsumeProducer(producer, rtpCapabilities) {
	if (rtpCapabilities === undefined || rtpCapabilities === null || typeof rtpCapabilities !== 'object') {
		throw new TypeError('caps is not an object');
	}
	const caps = toJson(rtpCapabilities, 'rtpCapabilities');
	let answers = canConsumeAnswers.get(producer);
	if (!answers) {
		answers = new Map();
		canConsumeAnswers.set(producer, answers);
	}
	let answer = answers.get(caps);
	if (answer === undefined) {
		// Invalid capabilities throw (TypeError) and are not remembered.
		answer = unwrap(native.canConsume(producer.consumableRtpParametersJson, caps));
		if (answers.size >= CAN_CONSUME_REMEMBERED) {
			answers.delete(answers.keys().next().value);
		}
		answers.set(caps, answer);
	}
	return answer;
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
