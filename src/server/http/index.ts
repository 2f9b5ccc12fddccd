/** The server's HTTP API: the fastify app, its route table, authentication. See docs/api.md. */
export { buildApp, type AppOptions } from './app.js';
export { routeTable } from './table.js';
export { openApiDocument } from './openapi.js';
export { allows, authenticate, bootstrapAdminToken, createToken } from './auth.js';
export type { AnyRoute, HttpMethod, Route, RouteContext, Scope } from './route.js';
export type { ApiProject } from './schemas.js';
