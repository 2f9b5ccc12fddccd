/**
 * Writes schema/slipway.schema.json, the JSON Schema editors use to check and complete
 * `.slipway.yml` (generated from the zod schema in src/pipeline/schema.ts).
 * Run with `npm run schema` (it runs from dist/scripts/, two levels below the root).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { pipelineJsonSchema } from '../src/pipeline/index.js';

const target = new URL('../../schema/slipway.schema.json', import.meta.url);
await mkdir(new URL('.', target), { recursive: true });
await writeFile(target, `${JSON.stringify(pipelineJsonSchema(), null, 2)}\n`);
process.stdout.write(`wrote ${target.pathname}\n`);
