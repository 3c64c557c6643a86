import { types } from './index';
export = types;
