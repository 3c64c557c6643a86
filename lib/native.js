'use strict';

// The addon built by `npm run build` (napi writes its loader to binding.js).
module.exports = require('../binding.js');
