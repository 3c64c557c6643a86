// Error classes of ferrosoup (`require('ferrosoup/errors')`), named as mediasoup's are.

// Something (a codec, a feature) is not supported.
export declare class UnsupportedError extends Error {
	constructor(message: string);
}

// The target object is in a state that does not allow the call.
export declare class InvalidStateError extends Error {
	constructor(message: string);
}

// A method was called on a closed Worker.
export declare class WorkerClosedError extends Error {
	constructor(message: string);
}

// A referenced entity (producer, data producer, ...) does not exist.
export declare class NotFoundError extends Error {
	constructor(message: string);
}
