import assert from 'node:assert/strict';
import { test } from 'node:test';

import { formatNumber, renderTable } from './table.js';

test('tables fit columns to content and right-align numbers', () => {
  const text = renderTable(
    [
      { header: 'NAME', value: (r: { n: string; v: number }) => r.n },
      { header: 'V', value: (r) => formatNumber(r.v), alignRight: true },
    ],
    [
      { n: 'a', v: 0.123456 },
      { n: 'longer', v: 12 },
    ],
  );
  assert.equal(text, 'NAME         V\na       0.1235\nlonger      12');
});

test('numbers format compactly', () => {
  assert.equal(formatNumber(undefined), '-');
  assert.equal(formatNumber(0.00001234), '1.23e-5');
  assert.equal(formatNumber(0.5), '0.5');
});
