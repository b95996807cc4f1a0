import assert from 'node:assert/strict';
import { test } from 'node:test';

import { statusClass } from './format.js';

test('known statuses get their colour; an unknown one (added later) a generic badge', () => {
  assert.equal(statusClass('early-stopped'), 'status status-early-stopped');
  assert.equal(statusClass('stalled'), 'status status-other');
  assert.equal(statusClass('requeued'), 'status status-other');
});
