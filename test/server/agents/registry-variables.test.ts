import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { registryVariables } from '../../../src/server/agents/index.js';

const createdAt = Date.UTC(2026, 10, 25, 7, 5, 9);
const commitSha = '0123456789abcdef0123456789abcdef01234567';

describe('registry variables', () => {
  it('names the registry, the project image and a tag of the short commit and the build time in UTC', () => {
    assert.deepEqual(registryVariables('127.0.0.1:5000', 'Web-App', { tag: null, commitSha, createdAt }), {
      SLIPWAY_REGISTRY: '127.0.0.1:5000',
      SLIPWAY_REGISTRY_IMAGE: '127.0.0.1:5000/web-app',
      SLIPWAY_IMAGE_TAG: '127.0.0.1:5000/web-app:01234567-20261125070509',
    });
  });

  it('tags a tag build with the tag name, made safe for a docker tag', () => {
    assert.equal(registryVariables('registry.example.com/team', 'api', { tag: 'release/v1.2+3', commitSha, createdAt }).SLIPWAY_IMAGE_TAG, 'registry.example.com/team/api:release-v1.2-3-20261125070509');
  });

  it('gives no registry variables without a registry', () => {
    assert.deepEqual(registryVariables(null, 'api', { tag: null, commitSha, createdAt }), {});
  });
});
