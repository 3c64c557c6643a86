'use strict';

// mediasoup's error classes. Each sets `name` so `error.name` tells them apart as mediasoup's do.
function makeError(name) {
	const ErrorClass = class extends Error {
		constructor(message) {
			super(message);
			this.name = name;
			if (Error.captureStackTrace) {
				Error.captureStackTrace(this, ErrorClass);
			}
		}
	};
	Object.defineProperty(ErrorClass, 'name', { value: name });
	return ErrorClass;
}

/** Something is not supported (a codec, or a part of the API not built yet). */
const UnsupportedError = makeError('UnsupportedError');
/** The object is in a state that does not allow the call. */
const InvalidStateError = makeError('InvalidStateError');
/** The Worker (thread) is closed. */
const WorkerClosedError = makeError('WorkerClosedError');
/** A referenced entity does not exist. */
const NotFoundError = makeError('NotFoundError');

module.exports = { UnsupportedError, InvalidStateError, WorkerClosedError, NotFoundError };
