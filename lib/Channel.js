'use strict';

const { EnhancedEventEmitter } = require('./enhancedEvents');
const { Logger } = require('./Logger');
const { WorkerClosedError } = require('../errors');
const { makeError } = require('./ortc');
const native = require('./native');

const logger = new Logger('Channel');

/**
 * The JS end of a worker thread: requests go down a native channel (never blocking), answers
 * and notifications come back through a threadsafe function as JSON messages.
 *
 * Events:
 * - '@running', '@died' (reason), '@exited'
 * - <targetId> (event, data): a notification for the object with that id.
 */
class Channel extends EnhancedEventEmitter {
	#native;
	#pid = process.pid;
	#workerPid;
	#closed = false;
	#nextId = 0;
	#sents = new Map();

	/** Throws TypeError for invalid settings (checked natively before the thread starts). */
	constructor(settings) {
		super();
		try {
			this.#native = new native.NativeWorker(JSON.stringify(settings), (json) => this.#onMessage(json));
		} catch (error) {
			// The binding names mediasoup's error class in `code`.
			throw error.code === 'TypeError' ? new TypeError(error.message) : makeError(error.code, error.message);
		}
	}

	/** The worker thread's kernel id (its `pid`), once running. */
	get workerPid() {
		return this.#workerPid;
	}

	get closed() {
		return this.#closed;
	}

	/** Worker thread number (for logs). */
	get number() {
		return this.#native.number;
	}

	close() {
		if (this.#closed) {
			return;
		}
		this.#closed = true;
		for (const sent of this.#sents.values()) {
			sent.reject(
				new WorkerClosedError(`Channel closed, pending request aborted [method:${native.mediasoupMethodName(sent.method)}, id:${sent.id}]`)
			);
		}
		this.#sents.clear();
		this.#native.close();
	}

	/** Sends a request; resolves with the worker's answer or rejects with its error class. */
	request(method, handlerId = '', data = undefined) {
		if (this.#closed) {
			return Promise.reject(new WorkerClosedError(`Channel closed, cannot send request [method:${native.mediasoupMethodName(method)}]`));
		}
		this.#nextId = this.#nextId < 4294967295 ? this.#nextId + 1 : 1;
		const id = this.#nextId;
		const payload = data === undefined ? '' : JSON.stringify(data);
		return new Promise((resolve, reject) => {
			// The binding parses the request at once: a malformed one (or a closed worker)
			// comes back as { error, reason }.
			const rejection = this.#native.request(id, method, handlerId, payload);
			if (rejection) {
				reject(makeError(rejection.error, rejection.reason));
				return;
			}
			this.#sents.set(id, { id, method, resolve, reject });
		});
	}

	/**
	 * Sends a notification with a binary payload (no answer). Throws WorkerClosedError when
	 * the worker is closed, as mediasoup's channel does.
	 */
	notify(method, handlerId, payload, meta = undefined) {
		if (this.#closed) {
			throw new WorkerClosedError(`Channel closed, cannot send notification [method:${native.mediasoupMethodName(method)}]`);
		}
		const rejection = this.#native.notify(method, handlerId, payload, meta);
		if (rejection) {
			throw makeError(rejection.error, rejection.reason);
		}
	}

	#onMessage(json) {
		let msg;
		try {
			msg = JSON.parse(json);
		} catch (error) {
			logger.error(`invalid message from the worker: ${error}`);
			return;
		}
		switch (msg.type) {
			case 'response': {
				const sent = this.#sents.get(msg.id);
				if (!sent) {
					// Answer to a request aborted by close().
					return;
				}
				this.#sents.delete(msg.id);
				if (msg.error) {
					sent.reject(makeError(msg.error, msg.reason));
				} else {
					sent.resolve(msg.data);
				}
				break;
			}
			case 'event': {
				// After the answer that may have created the target, as mediasoup does.
				setImmediate(() => this.safeEmit(msg.target, msg.event, msg.data));
				break;
			}
			case 'log': {
				const text = `[pid:${this.#pid}, worker:${this.#native.number}] ${msg.text}`;
				if (msg.level === 'D') {
					logger.debug(text);
				} else if (msg.level === 'W') {
					logger.warn(text);
				} else {
					logger.error(text);
				}
				break;
			}
			case 'running':
				this.#workerPid = msg.pid;
				this.safeEmit('@running');
				break;
			case 'died':
				this.safeEmit('@died', msg.reason);
				break;
			case 'exited':
				this.safeEmit('@exited');
				break;
			default:
				logger.error(`unknown message type from the worker: ${msg.type}`);
		}
	}
}

module.exports = { Channel };
