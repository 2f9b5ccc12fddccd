import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDuration } from '../../src/pipeline/index.js';
import { jobOf, planOf } from './helpers.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe('parseDuration', () => {
  const cases: Array<[string, number | null]> = [
    ['90s', 90 * SECOND],
    ['10m', 10 * MINUTE],
    ['1h', HOUR],
    ['1h 30m', 90 * MINUTE],
    ['1h30m', 90 * MINUTE],
    ['2 days', 2 * DAY],
    ['1 week', 7 * DAY],
    ['3 mins', 3 * MINUTE],
    ['90', 90 * SECOND],
    ['1.5h', 90 * MINUTE],
    ['1 hour and 20 minutes', 80 * MINUTE],
    ['2 weeks, 1 day', 15 * DAY],
    ['3 months', 90 * DAY],
    ['1 year', 365 * DAY],
    ['500ms', 500],
    ['  10 Minutes ', 10 * MINUTE],
    ['1:30', 90 * SECOND],
    ['1:02:03', HOUR + 2 * MINUTE + 3 * SECOND],
    ['0s', 0],
    ['never', null],
    ['', null],
    ['5 parsecs', null],
    ['-1s', null],
    ['1h 30', null],
    ['m', null],
    ['1e3s', null],
    ['99999999999 years', null],
  ];
  for (const [text, expected] of cases) {
    it(`reads ${JSON.stringify(text)} as ${expected === null ? 'not a duration' : `${expected} ms`}`, () => {
      assert.equal(parseDuration(text), expected);
    });
  }
});

describe('resources: memory', () => {
  const cases: Array<[string, number]> = [
    ['512Mi', 512],
    ['2Gi', 2048],
    ['1.5Gi', 1536],
    ['512MiB', 512],
    ['1G', 954],
    ['300M', 287],
    ['1024', 1024],
    ['256Ki', 1],
  ];
  for (const [text, mib] of cases) {
    it(`reads ${text} as ${mib} MiB, rounded up`, () => {
      const plan = planOf(`job:\n  script: x\n  resources: { memory: ${text} }\n`);
      assert.equal(jobOf(plan, 'job').resources.memoryMiB, mib);
    });
  }
});
