'use strict';

const { RtpObserver } = require('./RtpObserver');

/**
 * mediasoup's ActiveSpeakerObserver: `dominantspeaker` when the dominant speaker among its
 * producers changes (dominant speaker identification over their RFC 6464 audio levels).
 */
class ActiveSpeakerObserver extends RtpObserver {
	get type() {
		return 'activespeaker';
	}

	/** @private */
	onNotification(event, data) {
		if (event !== 'dominantspeaker') {
			super.onNotification(event, data);
			return;
		}
		const producer = this.getProducerById(data.producerId);
		if (!producer) {
			return;
		}
		this.safeEmit('dominantspeaker', { producer });
		this.observer.safeEmit('dominantspeaker', { producer });
	}
}

module.exports = { ActiveSpeakerObserver };
