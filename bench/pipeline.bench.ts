// How fast a pipeline file is parsed and planned: a realistic file and a large one.
import { performance } from 'node:perf_hooks';
import { parsePipeline, planPipeline } from '../src/pipeline/index.js';
import { report, summarize, type Row } from './lib/report.js';

function realistic(jobs: number): string {
  const lines = ['stages: [build, test, deploy]', 'variables:', '  GLOBAL: "1"', '.base: &base', '  image: debian:bookworm', '  retry: 1', ''];
  for (let i = 0; i < jobs; i++) {
    lines.push(`job${i}:`, '  <<: *base', `  stage: ${['build', 'test', 'deploy'][i % 3]}`);
    if (i >= 3) lines.push(`  needs: [job${i - 3}]`);
    lines.push('  script:', '    - echo one', '    - echo two', '  artifacts:', '    paths: [out/]', '');
  }
  lines.push('matrix:', '  parallel:', '    matrix:', '      - A: [a, b, c, d]', '        B: [1, 2, 3, 4, 5]', '  script: echo $A$B', '');
  return lines.join('\n');
}

const variables = { CI_COMMIT_BRANCH: 'main', CI_PIPELINE_SOURCE: 'push' };
const rows: Row[] = [];
for (const jobs of [10, 100, 500]) {
  const text = realistic(jobs);
  const samples: number[] = [];
  for (let i = 0; i < 30; i++) {
    const start = performance.now();
    const parsed = parsePipeline(text, '.slipway.yml');
    if (!parsed.ok) throw new Error(`benchmark file is invalid: ${parsed.errors[0]?.message}`);
    const planned = planPipeline(parsed.value, { variables, changedPaths: null, existingPaths: null });
    if (!planned.ok) throw new Error(`benchmark file does not plan: ${planned.errors[0]?.message}`);
    samples.push(performance.now() - start);
  }
  const s = summarize(samples);
  rows.push({ jobs: jobs + 20, bytes: text.length, 'p50 ms': s.p50, 'p90 ms': s.p90 });
}
await report('pipeline', 'parse + plan of .slipway.yml (30 runs each)', rows);
