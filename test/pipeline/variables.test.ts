import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { commitTimestamp, predefinedVariables, type PredefinedContext } from '../../src/pipeline/index.js';

function context(ref: PredefinedContext['ref'], beforeSha: string | null = null): PredefinedContext {
  return {
    serverUrl: null,
    project: { name: 'web', repositoryUrl: '/srv/web', defaultBranch: 'main' },
    commit: { sha: 'a'.repeat(40), beforeSha, message: 'Fix the login\n\nIt looped.', authorName: 'Ada', authorEmail: 'ada@example.com', timestamp: '2024-05-06T05:08:09Z' },
    ref,
    build: { id: '7', source: 'push', url: null },
  };
}

describe('predefined variables', () => {
  it('gives a tag build CI_COMMIT_TAG and never CI_COMMIT_BRANCH, even when both are known', () => {
    const vars = predefinedVariables(context({ branch: 'main', tag: 'v1.0' }));
    assert.equal(vars.CI_COMMIT_TAG, 'v1.0');
    assert.equal(vars.CI_COMMIT_BRANCH, undefined);
    assert.equal(vars.CI_COMMIT_REF_NAME, 'v1.0');
  });

  it('gives a branch build CI_COMMIT_BRANCH and no CI_COMMIT_TAG, and a commit build neither', () => {
    const branch = predefinedVariables(context({ branch: 'main', tag: null }));
    assert.deepEqual([branch.CI_COMMIT_BRANCH, branch.CI_COMMIT_TAG], ['main', undefined]);
    const commit = predefinedVariables(context({ branch: null, tag: null }));
    assert.deepEqual([commit.CI_COMMIT_BRANCH, commit.CI_COMMIT_TAG, commit.CI_COMMIT_REF_NAME], [undefined, undefined, 'a'.repeat(40)]);
  });

  it("describes the commit: message, title, author, time, and the commit before a push (zeros when unknown)", () => {
    const vars = predefinedVariables(context({ branch: 'main', tag: null }, 'b'.repeat(40)));
    assert.equal(vars.CI_COMMIT_TITLE, 'Fix the login');
    assert.equal(vars.CI_COMMIT_DESCRIPTION, 'It looped.');
    assert.equal(vars.CI_COMMIT_AUTHOR, 'Ada <ada@example.com>');
    assert.equal(vars.CI_COMMIT_TIMESTAMP, '2024-05-06T05:08:09Z');
    assert.equal(vars.CI_COMMIT_BEFORE_SHA, 'b'.repeat(40));
    assert.equal(predefinedVariables(context({ branch: 'main', tag: null })).CI_COMMIT_BEFORE_SHA, '0'.repeat(40));
  });

  it("writes CI_COMMIT_TIMESTAMP as GitLab does: UTC to the second", () => {
    assert.equal(commitTimestamp(Date.parse('2024-05-06T07:08:09.750+02:00')), '2024-05-06T05:08:09Z');
  });
});
