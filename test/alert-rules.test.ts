/**
 * The alert rules in infra/prometheus/alerts.yml against promtool's rule unit tests
 * (infra/prometheus/alerts.test.yml): every alert fires when series provoke its condition for its
 * `for` duration, with its labels and rendered annotations, and stays silent on healthy series.
 * test/observability.test.ts checks that a real Prometheus loads and evaluates the same rules.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { parse } from 'yaml';

import { promtoolPath } from './harness/binaries.js';

const PROMETHEUS_DIR = fileURLToPath(new URL('../infra/prometheus/', import.meta.url));

/** The alert names a YAML file of rules (alerts.yml) or of rule tests (alerts.test.yml) names. */
function alertNames(file: string, key: 'alert' | 'alertname'): Set<string> {
  const found = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (typeof node === 'object' && node !== null) {
      for (const [k, v] of Object.entries(node)) {
        if (k === key && typeof v === 'string') found.add(v);
        else visit(v);
      }
    }
  };
  visit(parse(readFileSync(join(PROMETHEUS_DIR, file), 'utf8')));
  return found;
}

test('every alert rule has a promtool test, and every test passes', () => {
  const rules = alertNames('alerts.yml', 'alert');
  const tested = alertNames('alerts.test.yml', 'alertname');
  assert.ok(rules.size > 0);
  assert.deepEqual(
    [...rules].filter((name) => !tested.has(name)),
    [],
    'alerts without a test',
  );
  const result = spawnSync(promtoolPath(), ['test', 'rules', 'alerts.test.yml'], {
    cwd: PROMETHEUS_DIR,
    encoding: 'utf8',
  });
  assert.equal(result.status, 0, result.stdout + result.stderr);
});
