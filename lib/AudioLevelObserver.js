'use strict';

const { RtpObserver } = require('./RtpObserver');

/**
 * mediasoup's AudioLevelObserver: every `interval` ms, `volumes` lists the producers whose
 * RFC 6464 audio level averaged over the interval is at least `threshold` dBov, loudest first
 * (at most `maxEntries`); `silence` once when none is.
 */
class AudioLevelObserver extends RtpObserver {
	get type() {
		return 'audiolevel';
	}

	/** @private */
	onNotification(event, data) {
		switch (event) {
			case 'volumes': {
				const volumes = data
					.map(({ producerId, volume }) => ({ producer: this.getProducerById(producerId), volume }))
					.filter(({ producer }) => producer);
				if (volumes.length > 0) {
					this.safeEmit('volumes', volumes);
					this.observer.safeEmit('volumes', volumes);
				}
				break;
			}
			case 'silence': {
				this.safeEmit('silence');
				this.observer.safeEmit('silence');
				break;
			}
			default:
				super.onNotification(event, data);
		}
	}
}

module.exports = { AudioLevelObserver };
