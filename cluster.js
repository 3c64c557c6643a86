'use strict';

// require('ferrosoup/cluster'): rooms across hosts through Redis (needs the `ioredis` package).
module.exports = require('./lib/cluster');
