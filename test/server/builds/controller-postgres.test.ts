import { postgresTarget } from '../http/harness.js';
import { controllerSuite } from './suite.js';

controllerSuite(await postgresTarget());
