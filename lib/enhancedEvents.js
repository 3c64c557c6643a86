'use strict';

const { EventEmitter, once } = require('node:events');

/**
 * EventEmitter with no listener limit and `safeEmit()`: a listener that throws does not break
 * the emitter's own flow; the error is re-emitted as 'listenererror'.
 */
class EnhancedEventEmitter extends EventEmitter {
	constructor() {
		super();
		this.setMaxListeners(Infinity);
	}

	safeEmit(eventName, ...args) {
		try {
			return super.emit(eventName, ...args);
		} catch (error) {
			try {
				super.emit('listenererror', eventName, error);
			} catch {
				// Nothing more can be done.
			}
			return Boolean(super.listenerCount(eventName));
		}
	}
}

function enhancedOnce(emitter, eventName, options) {
	return once(emitter, eventName, options);
}

module.exports = { EnhancedEventEmitter, enhancedOnce };
