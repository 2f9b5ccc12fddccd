/**
 * The shape of `.slipway.yml` as zod schemas: the one description of the file that both
 * validates it (see validate.ts for how issues become positioned messages) and produces
 * the JSON Schema editors use. Schemas describe the file as written; small transforms turn
 * durations into ms, sizes into MiB, `if:` into a parsed expression and `string | list`
 * into a list. Checks that span keys or jobs (script required, `start_in` with
 * `when: delayed`, stages, needs) live in jobs.ts and needs.ts.
 */
import { z } from 'zod';
import { parseExpression } from './expressions.js';
import { WEEK_MS, parseDuration, parseMemoryMiB } from './units.js';

/** Descriptions and ids for the JSON Schema, kept out of zod's global registry. */
const docs = z.registry<{ id?: string; description?: string }>();

/** A copy of `schema` carrying a description: schemas are shared, descriptions are not. */
function doc<T extends z.ZodType>(schema: T, description: string, id?: string): T {
  const described = schema.clone() as T;
  docs.add(described, id === undefined ? { description } : { id, description });
  return described;
}

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const variableName = z.string().regex(VARIABLE_NAME, { error: 'must be a variable name: letters, digits and `_`, not starting with a digit' });

const nonEmpty = z.string().min(1);
const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()], { error: 'must be a string, a number or true/false' });

/** A string or a list of them, read as a list. */
const oneOrMany = (item: z.ZodString) =>
  z.union([item, z.array(item)], { error: 'must be a string or a list of strings' }).transform((value) => (typeof value === 'string' ? [value] : value));

const stringList = oneOrMany(nonEmpty);
/** Entrypoints and commands: `entrypoint: [""]` is how images' entrypoints are cleared. */
const argv = oneOrMany(z.string());

type ScriptInput = string | ScriptInput[];
const SCRIPT_MESSAGE = 'must be a string or a list of strings; quote a command that contains `: ` or starts with a YAML character such as `{`, `[`, `*`, `&`, `!`, `|`, `>`, `%` or `@`';
const scriptLines: z.ZodType<ScriptInput> = z.lazy(() => z.union([z.string(), z.array(scriptLines)], { error: SCRIPT_MESSAGE }));
const flatten = (value: ScriptInput): string[] => (typeof value === 'string' ? [value] : value.flatMap(flatten));
const commands = doc(scriptLines.transform(flatten), 'Shell commands: a string or a list of strings (nested lists are flattened).');

function duration(examples: string, options: { positive?: boolean; maxMs?: number; maxText?: string } = {}) {
  const message = `must be a duration like ${examples}`;
  return z.union([z.string(), z.number()], { error: message }).transform((value, ctx) => {
    const ms = parseDuration(String(value));
    if (ms === null) ctx.addIssue({ code: 'custom', message });
    else if (options.positive === true && ms === 0) ctx.addIssue({ code: 'custom', message: 'must be longer than 0s' });
    else if (options.maxMs !== undefined && ms > options.maxMs) ctx.addIssue({ code: 'custom', message: `must be at most ${options.maxText ?? ''}` });
    else return ms;
    return z.NEVER;
  });
}

const timeout = doc(duration('90s, 10m or 1h', { positive: true }), 'How long the job may run: `90s`, `10m`, `1h 30m`... Default 1h.');
const startIn = doc(duration('30s, 5 minutes or 1 hour', { maxMs: WEEK_MS, maxText: '1 week' }), 'With `when: delayed`: how long to wait before starting, at most 1 week.');

const MEMORY_MESSAGE = 'must be a size like 512Mi, 2Gi, 1G or a number of MiB';
const memory = z.union([z.string(), z.number()], { error: MEMORY_MESSAGE }).transform((value, ctx) => {
  const mib = parseMemoryMiB(value);
  if (mib !== null) return mib;
  ctx.addIssue({ code: 'custom', message: MEMORY_MESSAGE });
  return z.NEVER;
});

const expression = z.string().transform((text, ctx) => {
  const parsed = parseExpression(text);
  if (parsed.ok) return parsed.expression;
  ctx.addIssue({ code: 'custom', message: parsed.message, params: { offset: parsed.offset } });
  return z.NEVER;
});

export const variablesSchema = doc(
  z.record(
    variableName,
    z.union([scalar, z.strictObject({ value: scalar, description: z.string().optional() })], {
      error: 'must be a string, a number, true/false or `{ value, description }`',
    }),
  ),
  'Variables: NAME: value. Numbers and booleans are kept as written.',
  'variables',
);

const RETRY_WHEN = ['always', 'script_failure', 'agent_lost', 'timeout', 'system_failure'] as const;
const retryCount = z.int().min(0).max(10);
const retry = doc(
  z.union(
    [retryCount, z.strictObject({ max: retryCount, when: z.union([z.enum(RETRY_WHEN), z.array(z.enum(RETRY_WHEN)).min(1)], { error: `must be ${RETRY_WHEN.map((w) => `\`${w}\``).join(', ')} or a list of them` }).optional() })],
    { error: 'must be a number of retries from 0 to 10, or `{ max, when }`' },
  ),
  'Retries after a failure: a count (0-10) or `{ max, when }`; `when` defaults to `always`.',
);

const exitCode = z.int().min(0).max(255);
const allowFailure = doc(
  z.union([z.boolean(), z.strictObject({ exit_codes: z.union([exitCode, z.array(exitCode).min(1)], { error: 'must be an exit code (0-255) or a list of them' }) })], {
    error: 'must be true, false or `{ exit_codes: [1, 2] }`',
  }),
  'Let the build pass when this job fails: true, or only for these exit codes.',
);

const JOB_WHEN = ['on_success', 'on_failure', 'always', 'manual', 'delayed'] as const;
const jobWhen = doc(
  z.enum(JOB_WHEN, {
    error: (issue) => (issue.input === 'never' ? 'is `never`, which only works inside `rules:`; to skip the job, use `rules: [{ when: never }]`' : undefined),
  }),
  'When the job runs: on_success (default), on_failure, always, manual or delayed (with `start_in`).',
);
const ruleWhen = z.enum([...JOB_WHEN, 'never']);
const OUTCOME_WHEN = ['on_success', 'on_failure', 'always'] as const;
const outcomeWhen = z.enum(OUTCOME_WHEN);

const glob = z.string().min(1).max(1024);
const globs = z
  .union([z.array(glob).max(50), z.strictObject({ paths: z.array(glob).max(50) })], { error: 'must be a list of paths or globs, or `{ paths: [...] }`' })
  .transform((value) => (Array.isArray(value) ? value : value.paths));

const ruleFields = {
  if: doc(expression, 'A condition such as `$CI_COMMIT_BRANCH == "main"`.').optional(),
  changes: doc(globs, 'Globs; the rule matches when a changed file matches one of them.').optional(),
  exists: doc(globs, 'Globs; the rule matches when a file in the repository matches one of them.').optional(),
  variables: variablesSchema.optional(),
};
const jobRule = z.strictObject({
  ...ruleFields,
  when: ruleWhen.optional(),
  allow_failure: allowFailure.optional(),
  start_in: startIn.optional(),
});
const workflowRule = z.strictObject({ ...ruleFields, when: z.enum(['always', 'never']).optional() });

const imageName = z.string().min(1).max(1024);
const image = doc(
  z.union([imageName, z.strictObject({ name: imageName, entrypoint: argv.optional() })], {
    error: 'must be an image name like `node:20` or `{ name, entrypoint }`',
  }),
  'The container image the job runs in.',
);

const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const service = z.union(
  [
    imageName,
    z.strictObject({
      name: imageName,
      alias: z.string().regex(HOSTNAME, { error: 'must be a host name: letters, digits and `-`' }).optional(),
      entrypoint: argv.optional(),
      command: argv.optional(),
      variables: variablesSchema.optional(),
    }),
  ],
  { error: 'must be an image name or `{ name, alias, entrypoint, command, variables }`' },
);
const services = doc(z.array(service), 'Containers started beside the job (databases...), reachable by alias.');

const resources = doc(
  z.strictObject({
    cpus: z.number().gt(0).max(1024).optional(),
    memory: doc(memory, 'Memory: `512Mi`, `2Gi`, `1G` (10^9 bytes) or a number of MiB.').optional(),
  }),
  'What the job needs from an agent: cpus and memory.',
);

const labels = doc(stringList, 'Labels selecting the agent template that runs the job (GitLab `tags`).');

const matrixValue = z.union([z.string(), z.number(), z.boolean()], { error: 'must be a string, a number or true/false' });
const matrix = doc(
  z
    .array(
      z
        .record(variableName, z.union([matrixValue, z.array(matrixValue).min(1)], { error: 'must be a value or a list of values' }))
        .refine((entry) => Object.keys(entry).length > 0, { error: 'must name at least one variable' }),
    )
    .min(1),
  'A list of mappings VARIABLE: value or [values]; each mapping adds the cartesian product of its values.',
);
const parallel = doc(
  z.union([z.int().min(2).max(200), z.strictObject({ matrix })], { error: 'must be a number of copies from 2 to 200, or `matrix: [...]`' }),
  'Run N copies of the job (`name 1/N`...), or one per combination of `matrix:` values.',
);

const jobName = z.string().min(1);
const need = z.union(
  [
    jobName,
    z.strictObject({
      job: jobName,
      artifacts: z.boolean().optional(),
      optional: z.boolean().optional(),
      parallel: z.strictObject({ matrix }).optional(),
    }),
  ],
  { error: 'must be a job name or `{ job, artifacts, optional }`' },
);
const needs = doc(z.array(need), 'Jobs this job waits for, whatever their stage. `[]` starts the job at once.');

const artifacts = doc(
  z.strictObject({
    paths: z.array(glob).min(1),
    exclude: z.array(glob).optional(),
    expire_in: z
      .union([z.literal('never'), duration('30 days, 1 week or `never`', { positive: true })], { error: 'must be a duration like 30 days or 1 week, or `never`' })
      .optional(),
    when: outcomeWhen.optional(),
    name: z.string().min(1).optional(),
  }),
  'Files kept after the job and passed to later jobs.',
);

const cacheKey = z.union(
  [
    z.string().min(1).refine((key) => !key.includes('/') && !/^\.+$/.test(key), { error: 'must not contain `/` or be only dots' }),
    z.strictObject({ files: z.array(glob).min(1).max(2), prefix: z.string().optional() }),
  ],
  { error: 'must be a string (it may use $VARIABLES) or `{ files: [...], prefix }`' },
);
const cacheEntry = z.strictObject({
  key: cacheKey.optional(),
  paths: z.array(glob).min(1),
  policy: z.enum(['pull', 'push', 'pull-push']).optional(),
  when: outcomeWhen.optional(),
});
const cache = doc(
  z.union([cacheEntry, z.array(cacheEntry).min(1).max(4)], { error: 'must be `{ key, paths, policy, when }` or a list of up to 4 of them' }),
  'Files restored before the job and saved after it, shared between builds by key.',
);

const environment = doc(
  z.union(
    [nonEmpty, z.strictObject({ name: nonEmpty, url: z.string().optional(), action: z.enum(['start', 'stop', 'prepare']).optional() })],
    { error: 'must be an environment name or `{ name, url, action }`' },
  ),
  'The environment this job deploys to.',
);

const deploy = doc(
  z.strictObject({
    app: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, { error: 'must be a lowercase name of letters, digits and `-`, at most 63 characters' }),
    image: imageName,
    instances: z.int().min(0).max(100).optional(),
    port: z.int().min(1).max(65535).optional(),
    env: variablesSchema.optional(),
    health_check: z
      .strictObject({
        path: z.string().startsWith('/', { error: 'must start with `/`' }),
        interval: duration('10s or 1m', { positive: true }).optional(),
        timeout: duration('5s or 30s', { positive: true }).optional(),
      })
      .optional(),
    resources: resources.optional(),
  }),
  'Deploy the built image as a long-running app with N instances.',
);

const DEFAULT_KEYS = [
  'image', 'labels', 'tags', 'services', 'resources', 'timeout', 'retry',
  'before_script', 'after_script', 'cache', 'artifacts', 'interruptible',
] as const;

const inherit = z.strictObject({
  default: z.union([z.boolean(), z.array(z.enum(DEFAULT_KEYS))], { error: 'must be true, false or a list of `default:` keys' }).optional(),
  variables: z.union([z.boolean(), z.array(variableName)], { error: 'must be true, false or a list of variable names' }).optional(),
});

export const jobSchema = doc(
  z.strictObject({
    stage: doc(nonEmpty, 'The stage the job belongs to. Default `test`.').optional(),
    extends: doc(stringList, 'Jobs or hidden templates (`.name`) whose keys this job inherits.').optional(),
    needs: needs.optional(),
    dependencies: doc(z.array(jobName), 'Jobs whose artifacts this job downloads (default: all of earlier stages, or its needs).').optional(),
    before_script: commands.optional(),
    script: doc(
      scriptLines.transform(flatten).refine((lines) => lines.length > 0, { error: 'must have at least one command' }),
      'The shell commands of the job: a string or a list (nested lists are flattened). Required.',
    ).optional(),
    after_script: commands.optional(),
    variables: variablesSchema.optional(),
    image: image.optional(),
    labels: labels.optional(),
    tags: doc(stringList, 'GitLab name of `labels`.').optional(),
    services: services.optional(),
    resources: resources.optional(),
    timeout: timeout.optional(),
    retry: retry.optional(),
    allow_failure: allowFailure.optional(),
    when: jobWhen.optional(),
    start_in: startIn.optional(),
    rules: doc(z.array(jobRule), 'The first matching rule decides whether and how the job runs; no match excludes it.').optional(),
    parallel: parallel.optional(),
    artifacts: artifacts.optional(),
    cache: cache.optional(),
    environment: environment.optional(),
    deploy: deploy.optional(),
    interruptible: doc(z.boolean(), 'Whether a newer build of the same branch may cancel this job.').optional(),
    coverage: doc(
      z.string().regex(/^\/.+\/$/s, { error: 'must be a regular expression between slashes, like `/Coverage: (\\d+)%/`' }),
      'A /regex/ that finds the coverage percentage in the job log.',
    ).optional(),
    inherit: doc(inherit, 'Whether the job takes `default:` keys and top-level variables: true, false or a list.').optional(),
  }),
  'A job: a name mapped to its `script` and settings.',
  'job',
);

export const defaultSchema = doc(
  jobSchema.pick(Object.fromEntries(DEFAULT_KEYS.map((key) => [key, true])) as Record<(typeof DEFAULT_KEYS)[number], true>),
  'Values every job takes unless it sets the key itself.',
);

export const stagesSchema = doc(z.array(nonEmpty), 'Stage names in run order. Default: build, test, deploy.');

export const workflowSchema = doc(
  z.strictObject({ rules: z.array(workflowRule).optional() }),
  'Whether a build of this pipeline is created at all.',
);

export type JobInput = z.output<typeof jobSchema>;
export type DefaultInput = z.output<typeof defaultSchema>;
export type WorkflowInput = z.output<typeof workflowSchema>;
export type RuleInput = z.output<typeof jobRule>;
export type WorkflowRuleInput = z.output<typeof workflowRule>;

/**
 * The JSON Schema of `.slipway.yml` (draft-07, which editors support best). Top-level keys
 * other than the keywords are jobs; hidden keys (`.name`) may hold anything.
 */
export function pipelineJsonSchema(): object {
  const file = z
    .object({
      variables: variablesSchema.optional(),
      stages: stagesSchema.optional(),
      default: defaultSchema.optional(),
      workflow: workflowSchema.optional(),
    })
    .catchall(jobSchema);
  const generated = z.toJSONSchema(file, { io: 'input', target: 'draft-7', metadata: docs }) as Record<string, unknown>;
  const { $schema, ...rest } = generated;
  return {
    $schema,
    title: 'Slipway pipeline (.slipway.yml)',
    description: 'Stages, variables, defaults, workflow rules and jobs of a Slipway pipeline. See docs/pipeline.md.',
    ...rest,
    patternProperties: { '^\\.': { description: 'A hidden job: a template for `extends`, or anchors. It never runs.' } },
  };
}
