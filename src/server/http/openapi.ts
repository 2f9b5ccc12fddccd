import { z } from 'zod';
import { ErrorCode } from '../../errors/index.js';
import type { AnyRoute } from './route.js';

type JsonSchema = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

/** Path and query parameters: one entry per property of the route's object schema. */
function parameters(schema: z.ZodType | undefined, where: 'path' | 'query'): JsonSchema[] {
  if (schema === undefined) return [];
  const object = jsonSchema(schema, 'input');
  const properties = (object.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((object.required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || required.has(name),
    schema: property,
  }));
}

const errorBody = {
  type: 'object',
  required: ['code', 'message'],
  properties: {
    code: { type: 'string', enum: Object.values(ErrorCode), description: 'stable; branch on this' },
    message: { type: 'string', description: 'what went wrong and what to change' },
  },
};

/** The OpenAPI 3.1 document of a route table: the schemas are the ones the app validates with. */
export function openApiDocument(routes: readonly AnyRoute[], info: { version: string; serverUrl: string }): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of routes) {
    const openApiPath = route.path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}');
    const status = String(route.response === undefined ? 204 : (route.status ?? 200));
    const success: JsonSchema =
      route.response === undefined
        ? { description: 'done; no content' }
        : { description: 'success', content: { [route.contentType ?? 'application/json']: { schema: jsonSchema(route.response, 'output') } } };
    const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } });
    const responses: Record<string, unknown> = { [status]: success, '400': errorResponse('invalid request: message lists field: problem') };
    if (route.scope !== 'public') {
      responses['401'] = errorResponse('no valid API token');
      responses['403'] = errorResponse(`the token lacks the ${route.scope} scope`);
    }
    if (route.params !== undefined) responses['404'] = errorResponse('not found');
    const operation: JsonSchema = {
      operationId: `${route.method.toLowerCase()}${openApiPath.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
      summary: route.summary,
      'x-slipway-scope': route.scope,
      parameters: [...parameters(route.params, 'path'), ...parameters(route.query, 'query')],
      responses,
      security: route.scope === 'public' ? [] : [{ bearerAuth: [] }],
    };
    if (route.body !== undefined) {
      operation.requestBody = { required: true, content: { 'application/json': { schema: jsonSchema(route.body, 'input') } } };
    }
    (paths[openApiPath] ??= {})[route.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Slipway API', version: info.version, description: 'See docs/api.md for authentication, errors and pagination.' },
    servers: [{ url: info.serverUrl }],
    paths,
    components: {
      schemas: { Error: errorBody },
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'an API token (slw_api_...)' } },
    },
  };
}
