'use strict';

const { EnhancedEventEmitter, enhancedOnce } = require('./lib/enhancedEvents');

module.exports = { EnhancedEventEmitter, enhancedOnce };
