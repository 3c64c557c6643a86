'use strict';

const console = require('node:console');
const createDebug = require('debug');

const APP_NAME = 'ferrosoup';

/**
 * Logs through the `debug` module (`DEBUG=ferrosoup*`), as mediasoup does with `mediasoup*`,
 * and to the listeners given to `setLogEventListeners()`.
 */
class Logger {
	static debugListener;
	static warnListener;
	static errorListener;

	static setListeners(listeners) {
		Logger.debugListener = listeners?.ondebug;
		Logger.warnListener = listeners?.onwarn;
		Logger.errorListener = listeners?.onerror;
	}

	#debug;
	#warn;
	#error;

	constructor(prefix) {
		const base = prefix ? `${APP_NAME}:` : APP_NAME;
		const tail = prefix ?? '';
		this.#debug = createDebug(`${base}${tail}`);
		this.#warn = createDebug(prefix ? `${APP_NAME}:WARN:${prefix}` : `${APP_NAME}:WARN`);
		this.#error = createDebug(prefix ? `${APP_NAME}:ERROR:${prefix}` : `${APP_NAME}:ERROR`);
		this.#debug.log = console.debug;
		this.#warn.log = console.warn;
		this.#error.log = console.error;
	}

	debug(log) {
		this.#debug(log);
		Logger.#notify(Logger.debugListener, this.#debug.namespace, log);
	}

	warn(log) {
		this.#warn(log);
		Logger.#notify(Logger.warnListener, this.#warn.namespace, log);
	}

	error(log, error) {
		this.#error(log, error ?? '');
		Logger.#notify(Logger.errorListener, this.#error.namespace, log, error);
	}

	static #notify(listener, ...args) {
		if (!listener) {
			return;
		}
		try {
			listener(...args);
		} catch {
			// A throwing log listener must not break the caller.
		}
	}
}

module.exports = { Logger };
