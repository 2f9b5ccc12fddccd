import { sqliteTarget } from '../http/harness.js';
import { controllerSuite } from './suite.js';

controllerSuite(sqliteTarget);
