import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  constantTimeEqual,
  decryptSecret,
  encryptSecret,
  hashToken,
  newSecretsKey,
  newToken,
  parseSecretsKey,
  verifyHmacSha256Signature,
} from '../../src/server/crypto/index.js';

describe('server crypto', () => {
  const key = parseSecretsKey(newSecretsKey());
  const place = { projectId: 7, name: 'DEPLOY_TOKEN' };

  it('decrypts what it encrypted, and never writes the same ciphertext twice', () => {
    const a = encryptSecret(key, place, 'hunter2 ünïcode');
    const b = encryptSecret(key, place, 'hunter2 ünïcode');
    assert.notEqual(a, b);
    assert.ok(!a.includes('hunter2'));
    assert.equal(decryptSecret(key, place, a), 'hunter2 ünïcode');
  });

  it('refuses a ciphertext moved to another secret or project', () => {
    const sealed = encryptSecret(key, place, 'value');
    assert.throws(() => decryptSecret(key, { ...place, name: 'OTHER' }, sealed), /cannot be decrypted/);
    assert.throws(() => decryptSecret(key, { ...place, projectId: 8 }, sealed), /cannot be decrypted/);
  });

  it('explains a wrong key and a malformed key', () => {
    const sealed = encryptSecret(key, place, 'value');
    const other = parseSecretsKey(newSecretsKey());
    assert.throws(() => decryptSecret(other, place, sealed), /not the one it was saved with/);
    assert.throws(() => parseSecretsKey('too-short'), /32 bytes .*openssl rand -base64 32/);
    assert.equal(parseSecretsKey('ab'.repeat(32)).length, 32);
  });

  it('makes distinct prefixed tokens and stores only their hash', () => {
    const token = newToken('agent');
    assert.match(token, /^slw_agent_[A-Za-z0-9_-]{43}$/);
    assert.notEqual(token, newToken('agent'));
    assert.match(hashToken(token), /^[0-9a-f]{64}$/);
    assert.equal(hashToken(token), hashToken(token));
  });

  it('compares secrets of any length without throwing', () => {
    assert.equal(constantTimeEqual('abc', 'abc'), true);
    assert.equal(constantTimeEqual('abc', 'abcd'), false);
    assert.equal(constantTimeEqual('', ''), true);
  });

  it('accepts a GitHub signature of the raw body and rejects a forged or missing one', () => {
    const body = Buffer.from('{"ref":"refs/heads/main"}');
    const good = `sha256=${createHmac('sha256', 'webhook-secret').update(body).digest('hex')}`;
    assert.equal(verifyHmacSha256Signature('webhook-secret', body, good), true);
    assert.equal(verifyHmacSha256Signature('other-secret', body, good), false);
    assert.equal(verifyHmacSha256Signature('webhook-secret', Buffer.from('{"ref":"x"}'), good), false);
    assert.equal(verifyHmacSha256Signature('webhook-secret', body, undefined), false);
    assert.equal(verifyHmacSha256Signature('webhook-secret', body, 'sha1=abc'), false);
  });
});
