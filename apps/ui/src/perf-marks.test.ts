import assert from 'node:assert/strict';
import { test } from 'node:test';

import { markEvent, MAX_MARKS_PER_NAME } from './perf-marks.js';

test('marks of one name stay bounded however many events arrive', () => {
  const name = 'perf-marks-test';
  for (let i = 0; i < MAX_MARKS_PER_NAME * 3 + 5; i++) markEvent(name);
  const kept = performance.getEntriesByName(name, 'mark').length;
  assert.ok(kept >= 1 && kept <= MAX_MARKS_PER_NAME, `${kept} marks kept`);
  // Without the cap every call would have stayed.
  performance.mark('perf-marks-uncapped');
  performance.mark('perf-marks-uncapped');
  assert.equal(performance.getEntriesByName('perf-marks-uncapped').length, 2);
});
