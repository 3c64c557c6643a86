'use strict';

/**
 * ferrosoup: mediasoup v3's API, with Workers as native threads of this process.
 * `require('ferrosoup')` in place of `require('mediasoup')`.
 */
const { Logger } = require('./lib/Logger');
const { EnhancedEventEmitter } = require('./lib/enhancedEvents');
const { Worker } = require('./lib/Worker');
const { createRouterGroup } = require('./lib/RouterGroup');
const native = require('./lib/native');
const ortc = require('./lib/ortc');
const utils = require('./lib/utils');
const errors = require('./errors');
const extras = require('./extras');

const logger = new Logger();
const observer = new EnhancedEventEmitter();

const version = require('./package.json').version;

/** The mediasoup API level ferrosoup implements (for apps that show "mediasoup version"). */
const mediasoupVersion = '3.27.1';

function setLogEventListeners(listeners) {
	logger.debug('setLogEventListeners()');
	Logger.setListeners(listeners);
}

async function createWorker({
	logLevel = 'error',
	logTags,
	rtcMinPort = 10000,
	rtcMaxPort = 59999,
	dtlsCertificateFile,
	dtlsPrivateKeyFile,
	libwebrtcFieldTrials,
	appData,
} = {}) {
	logger.debug('createWorker()');
	utils.checkAppData(appData);
	if (libwebrtcFieldTrials !== undefined) {
		logger.warn('createWorker() | libwebrtcFieldTrials is ignored by ferrosoup');
	}
	// mediasoup ignores settings of the wrong type (its worker never sees them).
	const settings = {
		logLevel: typeof logLevel === 'string' ? logLevel : undefined,
		logTags: Array.isArray(logTags) ? logTags.filter((t) => typeof t === 'string' && t) : undefined,
		rtcMinPort: typeof rtcMinPort === 'number' && !Number.isNaN(rtcMinPort) ? rtcMinPort : undefined,
		rtcMaxPort: typeof rtcMaxPort === 'number' && !Number.isNaN(rtcMaxPort) ? rtcMaxPort : undefined,
		dtlsCertificateFile: typeof dtlsCertificateFile === 'string' ? dtlsCertificateFile : undefined,
		dtlsPrivateKeyFile: typeof dtlsPrivateKeyFile === 'string' ? dtlsPrivateKeyFile : undefined,
	};
	// Throws TypeError for invalid settings.
	const worker = new Worker({ settings, appData });
	return new Promise((resolve, reject) => {
		worker.once('@success', () => {
			observer.safeEmit('newworker', worker);
			resolve(worker);
		});
		worker.once('@failure', reject);
	});
}

function getSupportedRtpCapabilities() {
	return JSON.parse(native.supportedRtpCapabilities());
}

function parseScalabilityMode(scalabilityMode) {
	const mode = scalabilityMode === undefined || scalabilityMode === null ? undefined : String(scalabilityMode);
	const { spatialLayers, temporalLayers, ksvc } = native.parseScalabilityMode(mode);
	return { spatialLayers, temporalLayers, ksvc };
}

module.exports = {
	version,
	mediasoupVersion,
	observer,
	setLogEventListeners,
	createWorker,
	getSupportedRtpCapabilities,
	parseScalabilityMode,
	// ferrosoup extension: one room over several worker threads (a Router's API).
	createRouterGroup,
	errors,
	ortc: {
		generateRouterRtpCapabilities: ortc.generateRouterRtpCapabilities,
		canConsume: ortc.canConsume,
		validateAndNormalizeRtpCapabilities: ortc.validateAndNormalizeRtpCapabilities,
		validateAndNormalizeRtpParameters: ortc.validateAndNormalizeRtpParameters,
	},
	extras,
	// TypeScript types only (see index.d.ts); empty at run time as in mediasoup.
	types: {},
};
