import { extras } from './index';
export = extras;
