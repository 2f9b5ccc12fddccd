import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { formatDiagnostic, parsePipeline, pipelineJsonSchema } from '../../src/pipeline/index.js';
import { FILE } from './helpers.js';

const root = new URL('../../../', import.meta.url);

type JsonSchema = {
  $schema?: string;
  properties?: Record<string, unknown>;
  additionalProperties?: { $ref?: string };
  patternProperties?: Record<string, unknown>;
  definitions?: Record<string, { properties?: Record<string, unknown>; additionalProperties?: boolean }>;
};

const JOB_KEYS = [
  'stage', 'extends', 'needs', 'dependencies', 'before_script', 'script', 'after_script', 'variables', 'image', 'labels', 'tags',
  'services', 'resources', 'timeout', 'retry', 'allow_failure', 'when', 'start_in', 'rules', 'parallel', 'artifacts', 'cache',
  'environment', 'deploy', 'interruptible', 'coverage', 'inherit',
];

describe('pipelineJsonSchema', () => {
  const schema = pipelineJsonSchema() as JsonSchema;

  it('is plain JSON in draft-07', () => {
    assert.deepEqual(JSON.parse(JSON.stringify(schema)), schema);
    assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
  });

  it('describes the top-level keywords, jobs as other keys and hidden jobs as anything', () => {
    assert.deepEqual(Object.keys(schema.properties ?? {}).sort(), ['default', 'stages', 'variables', 'workflow']);
    assert.equal(schema.additionalProperties?.$ref, '#/definitions/job');
    assert.deepEqual(Object.keys(schema.patternProperties ?? {}), ['^\\.']);
  });

  it('lists exactly the keys a job accepts and forbids others', () => {
    const job = schema.definitions?.['job'];
    assert.deepEqual(Object.keys(job?.properties ?? {}).sort(), [...JOB_KEYS].sort());
    assert.equal(job?.additionalProperties, false);
  });

  it('matches the generated schema/slipway.schema.json', async () => {
    const written = JSON.parse(await readFile(new URL('schema/slipway.schema.json', root), 'utf8')) as unknown;
    assert.deepEqual(written, schema, 'run `npm run schema` to regenerate it');
  });
});

describe('docs/pipeline.md', () => {
  const docs = readFile(new URL('docs/pipeline.md', root), 'utf8');
  /** Fenced blocks with this info string, in order. */
  const blocks = async (info: string): Promise<string[]> =>
    [...(await docs).matchAll(new RegExp(`^\`\`\`${info}\n([\\s\\S]*?)^\`\`\`$`, 'gm'))].map((m) => m[1] ?? '');

  it('documents every job key and every top-level keyword', async () => {
    for (const key of [...JOB_KEYS, 'variables', 'stages', 'default', 'workflow']) {
      assert.match(await docs, new RegExp(`^#+ .*\`${key}\``, 'm'), `no heading for \`${key}\``);
    }
  });

  it('shows only valid pipelines in its yaml examples', async () => {
    const examples = await blocks('yaml');
    assert.ok(examples.length >= 20);
    for (const example of examples) {
      const result = parsePipeline(example, FILE);
      assert.ok(result.ok, `${example}\n${result.ok ? '' : result.errors.map(formatDiagnostic).join('\n')}`);
    }
  });

  it('shows the errors its error example really gets', async () => {
    const [file] = (await blocks('yml')).filter((block) => block.startsWith('stages:'));
    const outputs = (await blocks('text')).filter((block) => block.includes('.slipway.yml:3:12'));
    assert.ok(file !== undefined && outputs.length === 1);
    const result = parsePipeline(file, FILE);
    assert.ok(!result.ok);
    assert.equal(result.errors.map(formatDiagnostic).join('\n'), outputs[0]?.trimEnd());
  });
});
