import assert from 'node:assert/strict';
import { test } from 'node:test';

import { locatePath } from './yaml-locate.js';

const TEXT = `dataset: s3://b/d/manifest.jsonl
search:
  strategy: random
  parameters:
    dropout:
      type: uniform
      min: 0.5
      max: 0.1
`;

test('a field path is found at its key line; a missing field at its nearest ancestor', () => {
  assert.deepEqual(locatePath(TEXT, 'search.parameters.dropout.max'), {
    line: 8,
    found: 'search.parameters.dropout.max',
  });
  assert.deepEqual(locatePath(TEXT, 'search.parameters'), { line: 4, found: 'search.parameters' });
  assert.deepEqual(locatePath(TEXT, 'training.epochs'), { line: 1, found: '' });
  assert.equal(locatePath(TEXT, 'dataset').line, 1);
});
