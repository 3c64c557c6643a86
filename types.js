'use strict';

// Types live in index.d.ts (`import { types } from 'ferrosoup'`); nothing at run time.
module.exports = {};
