import assert from 'node:assert/strict';
import { test } from 'node:test';
import { slugify, unslugify } from '../../dist/index.js';

test('slugify lowers case and joins words with dashes', () => {
  assert.equal(slugify('Hello, World!'), 'hello-world');
});

test('slugify removes accents and spells out symbols', () => {
  assert.equal(slugify('Crème brûlée & Straße'), 'creme-brulee-and-strasse');
});

test('slugify never cuts a word in half', () => {
  assert.equal(slugify('alpha beta gamma', { maxLength: 12 }), 'alpha-beta');
});

test('unslugify gives readable words back', () => {
  assert.equal(unslugify('hello-world'), 'Hello world');
});
