import { postgresTarget } from './harness.js';
import { apiSuite } from './suite.js';

apiSuite(await postgresTarget());
