import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { createLogger } from '../logger.js';
import { createWorkerMetrics, startMetricsServer } from '../metrics.js';
import { WorkerHealth } from './worker-health.js';

const logger = createLogger('error');

test('readiness: false until preflight, during an outage and in quarantine; /readyz says why', async () => {
  const metrics = createWorkerMetrics({ collectDefaultMetrics: false });
  let quarantines = 0;
  const health = new WorkerHealth({
    outageBudgetSeconds: 60,
    quarantineAfter: 2,
    logger,
    metrics,
    onQuarantine: () => (quarantines += 1),
  });
  const server = await startMetricsServer(metrics, {
    port: 0,
    host: '127.0.0.1',
    notReadyReason: () => health.notReadyReason(),
  });
  const readyz = async (): Promise<[number, string]> => {
    const response = await fetch(`http://127.0.0.1:${server.port}/readyz`);
    return [response.status, await response.text()];
  };
  try {
    assert.deepEqual(await readyz(), [503, 'not ready: the engine preflight has not passed\n']);
    health.preflightSucceeded();
    assert.deepEqual(await readyz(), [200, 'ready\n']);
    assert.match(await metrics.scrape(), /^setrain_worker_ready 1$/m);

    // Outage: delays grow, readiness is false until a success.
    assert.equal(health.recordOutage(), 1000);
    assert.equal(health.recordOutage(), 2000);
    assert.equal((await readyz())[0], 503);
    health.recordSuccess();
    assert.equal((await readyz())[0], 200);

    // Quarantine after 2 worker-side failures in a row; a success in between resets the count.
    assert.equal(health.recordWorkerFailure('crash'), false);
    health.recordSuccess();
    assert.equal(health.recordWorkerFailure('crash'), false);
    assert.equal(health.recordWorkerFailure('crash'), true);
    assert.equal(quarantines, 1);
    assert.match((await readyz())[1], /quarantined: 2 failures in a row/);
    assert.match(await metrics.scrape(), /^setrain_worker_quarantined 1$/m);
  } finally {
    await server.close();
  }
});

test('an outage longer than the budget is no longer waited out', async () => {
  const health = new WorkerHealth({ outageBudgetSeconds: 0, quarantineAfter: 3, logger });
  const first = health.recordOutage();
  assert.ok(first === undefined || first === 1000);
  await sleep(5); // past the 0 s budget
  assert.equal(health.recordOutage(), undefined);
});
