import type { JobSpec } from '../../src/pipeline/index.js';

/** A job with every field at its plain default: `script: ['true']`, one hour to run. */
export function makeJob(overrides: Partial<JobSpec> = {}): JobSpec {
  return {
    name: 'test',
    definitionName: 'test',
    stage: 'test',
    needs: null,
    artifactsFrom: [],
    beforeScript: [],
    script: ['true'],
    afterScript: [],
    variables: {},
    image: null,
    labels: [],
    services: [],
    resources: { cpus: null, memoryMiB: null },
    timeoutMs: 3_600_000,
    retry: { max: 0, when: [] },
    allowFailure: false,
    when: 'on_success',
    startInMs: null,
    artifacts: null,
    cache: [],
    environment: null,
    deploy: null,
    matrix: null,
    parallel: null,
    position: { file: '.slipway.yml', line: 1, column: 1 },
    ...overrides,
  };
}
