// The SDK's types cannot drift from the API: src/openapi.d.ts is what the
// generator writes from the server's OpenAPI document today, and every
// askgate type the SDK's declarations name is one of its schemas.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { readDocument, render } from '../scripts/generate-types.mjs';

const source = (name) => readFileSync(new URL(`../src/${name}`, import.meta.url), 'utf8');

test('src/openapi.d.ts is generated from the current OpenAPI document', () => {
  assert.equal(source('openapi.d.ts'), render(readDocument()), 'run `node scripts/generate-types.mjs` in sdk/js');
});

test('every API type the SDK declares exists in the OpenAPI document', () => {
  const schemas = new Set(Object.keys(readDocument().components.schemas));
  for (const file of ['index.d.ts', 'server.d.ts']) {
    const imported = source(file).match(/import type \{([^}]+)\} from '\.\/openapi\.js'/)?.[1] ?? '';
    const names = imported
      .split(',')
      .map((n) => n.trim())
      .filter(Boolean);
    assert.ok(names.length > 0, `${file} builds on the generated types`);
    for (const name of names) assert.ok(schemas.has(name), `${file}: ${name} is not a schema of the API`);
  }
});

test('the stream events the SDK yields are the ones the API documents', () => {
  const doc = readDocument();
  for (const name of ['StartEvent', 'DeltaEvent', 'SourcesEvent', 'DoneEvent', 'ErrorEvent']) {
    assert.ok(doc.components.schemas[name], name);
  }
  assert.ok(doc.components.schemas.DeltaEvent.properties.text, 'a delta carries text');
});
