import { e2eSuite } from './suite.js';

// The server's default database: <home>/slipway.db, fresh with each test's temp home.
e2eSuite('Slipway end to end on SQLite', { name: 'sqlite', freshDatabase: async () => ({ url: null, drop: async () => undefined }) });
