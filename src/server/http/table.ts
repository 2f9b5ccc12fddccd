import { z } from 'zod';
import type { ServerConfig } from '../config/index.js';
import { openApiDocument } from './openapi.js';
import { defineRoute, type AnyRoute } from './route.js';
import { attemptFileRoutes, jobArtifactRoutes } from './routes/artifacts.js';
import { buildRoutes } from './routes/builds.js';
import { eventRoutes } from './routes/events.js';
import { logRoutes } from './routes/logs.js';
import { projectRoutes } from './routes/projects.js';
import { scheduleRoutes } from './routes/schedules.js';
import { sourceRoutes } from './routes/source.js';
import { systemRoutes } from './routes/system.js';
import { tokenRoutes } from './routes/tokens.js';
import { webhookRoutes } from './routes/webhooks.js';

/**
 * Every route the server answers, in one table: the app registers exactly these, the
 * OpenAPI document lists exactly these, and the tests iterate them (every non-public route
 * refuses a caller without a token).
 */
export function routeTable(config: ServerConfig, version: string): AnyRoute[] {
  const table: AnyRoute[] = [...systemRoutes(config), ...projectRoutes, ...tokenRoutes, ...buildRoutes, ...scheduleRoutes, ...eventRoutes, ...webhookRoutes(config), ...logRoutes, ...jobArtifactRoutes, ...attemptFileRoutes, ...sourceRoutes];
  const document = openApiDocument([...table, openApiRoute(() => document)], { version, serverUrl: config.publicUrl });
  return [...table, openApiRoute(() => document)];
}

function openApiRoute(document: () => Record<string, unknown>): AnyRoute {
  return defineRoute({
    method: 'GET',
    path: '/api/v1/openapi.json',
    summary: 'This API as an OpenAPI 3.1 document',
    scope: 'public',
    response: z.record(z.string(), z.unknown()),
    handler: async () => document(),
  });
}
