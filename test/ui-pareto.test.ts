/// <reference lib="dom" />
// Functions passed to page.evaluate run in the browser: they need the DOM types.
/**
 * The dashboard's Pareto front panel in a real headless Chromium against the real API (listening,
 * serving a dashboard built into this file's own folder), redis-server and s3rver, with an in-test
 * BullMQ worker standing in for training (it returns each trial's metrics as a real worker does;
 * no weights are needed to draw the front): a 3-objective sweep's page shows the objectives, the
 * front's hypervolume and reference point, a table of exactly the API's front trials with their
 * values, and a scatter of every finished trial with the front highlighted, whose horizontal
 * objective can be changed. Screenshot under test-artifacts/ui.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { paretoFrontResponseSchema } from '@setrain/protocol';
import { type Browser } from 'puppeteer-core';

import { useApiTestFile } from './api-world.js';
import { tempDir, type TempDir } from './harness/index.js';
import { buildUi, launchChromium, pageWithKey, screenshot } from './ui/browser.js';

const api = useApiTestFile({
  label: 'ui-pareto',
  apiKey: 'ui-pareto-key-0123456789abcdef',
  appDeps: { metrics: false },
});

let browser: Browser;
let work: TempDir;

before(async () => {
  work = await tempDir('ui-pareto');
  buildUi(join(work.path, 'ui'));
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await work?.cleanup();
});

const DROPOUTS = [0.1, 0.3, 0.5, 0.7, 0.9];
const OBJECTIVES = [
  { metric: 'val_accuracy', goal: 'maximize' },
  { metric: 'latency_ms', goal: 'minimize' },
  { metric: 'param_count', goal: 'minimize' },
] as const;

/**
 * Dropout 0.1 .. 0.9: accuracy peaks at 0.5, latency grows, size is smallest around 0.5-0.7, so
 * trials 1-3 form the front, 3 dominates 4 and 4 dominates 5.
 */
function metricsOf(x: number) {
  return {
    accuracy: 1 - (x - 0.5) ** 2,
    trialMetrics: {
      latency_ms: 1 + 10 * x,
      param_count: Math.round(1000 * (x - 0.6) ** 2 + 100),
      seconds_per_epoch: 1,
    },
  };
}

test("a multi-objective sweep's page shows the front, its hypervolume and a scatter of two chosen objectives", async () => {
  const w = await api.world({ appDeps: { uiDir: join(work.path, 'ui') } });
  try {
    const app = await w.app();
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    w.worker((j) => {
      const { accuracy, trialMetrics } = metricsOf(Number(j.data.params['dropout']));
      return Promise.resolve({
        trialId: j.data.trialId,
        status: 'completed',
        objectiveValue: accuracy,
        bestEpoch: 1,
        epochsCompleted: 1,
        trialMetrics,
        trialJson: `runs/${j.data.sweepId}/trials/${j.data.trialId}/trial.json`,
      });
    });
    const { id } = await api.createSweep(app, {
      dataset: w.dataset,
      training: { epochs: 1 },
      search: { strategy: 'grid', parameters: { dropout: DROPOUTS } },
      objectives: OBJECTIVES,
    });
    const done = await api.untilSweep(app, id, (s) => s.status === 'completed', 'the sweep to end');
    assert.deepEqual(done.front, [1, 2, 3]);
    const best = paretoFrontResponseSchema.parse(
      (await api.request(app, 'GET', `/v1/sweeps/${id}/best`)).json(),
    );
    assert.equal(best.hypervolume.referencePointFrom, 'front');

    const page = await pageWithKey(browser, api.apiKey);
    await page.goto(`${base}/ui/#/sweeps/${encodeURIComponent(id)}`);
    await page.waitForSelector('#pareto-table tbody tr');
    const header = await page.$eval('#sweep-page p.muted', (p) => p.textContent ?? '');
    assert.match(
      header,
      /objectives val_accuracy \(maximize\), latency_ms \(minimize\), param_count \(minimize\)/,
    );
    assert.equal(await page.$('#best-card'), null, 'no single best trial card');

    // The table: the API's front, in order, each row its values in objectives order.
    const rows = await page.$$eval('#pareto-table tbody tr', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
    );
    assert.deepEqual(
      rows.map((cells) => cells.slice(0, 4)),
      best.front.map((t) => [
        `#${t.trialNumber}`,
        ...t.values.map((v) => String(Number(v.toFixed(4)))),
      ]),
    );
    const hypervolume = await page.$eval('#pareto-hypervolume', (p) => p.textContent ?? '');
    const shown =
      /Hypervolume ([\d.e+-]+) against reference point \((.+)\) inferred from the front/.exec(
        hypervolume,
      );
    assert.ok(shown, hypervolume);
    assert.ok(Math.abs(Number(shown[1]) - best.hypervolume.value) <= 1e-4 * best.hypervolume.value);
    assert.equal(shown[2]?.split(', ').length, 3);

    // The scatter: every trial, the front's larger and orange; axes val_accuracy and latency_ms.
    const circles = () =>
      page.$$eval('#pareto-scatter circle', (cs) =>
        cs.map((c) => ({
          trial: Number(c.getAttribute('data-trial')),
          front: c.classList.contains('on-front'),
          cx: Number(c.getAttribute('cx')),
        })),
      );
    const before = await circles();
    assert.deepEqual(
      before.map((c) => [c.trial, c.front]).sort((a, b) => Number(a[0]) - Number(b[0])),
      [
        [1, true],
        [2, true],
        [3, true],
        [4, false],
        [5, false],
      ],
    );
    const axisNames = () =>
      page.$$eval('#pareto-scatter .axis-name', (ts) => ts.map((t) => t.textContent));
    assert.deepEqual(await axisNames(), ['val_accuracy (maximize)', 'latency_ms (minimize)']);
    // Three objectives: the horizontal one can be changed; the points move to param_count.
    await page.select('#pareto-x', '2');
    await page.waitForFunction(
      () =>
        document.querySelector('#pareto-scatter .axis-name')?.textContent ===
        'param_count (minimize)',
    );
    const after = await circles();
    const size = (n: number) => metricsOf(DROPOUTS[n - 1] ?? NaN).trialMetrics.param_count;
    for (const a of after) {
      for (const b of after) {
        if (size(a.trial) < size(b.trial)) assert.ok(a.cx < b.cx, JSON.stringify(after));
      }
    }
    assert.notDeepEqual(
      after.map((c) => c.cx),
      before.map((c) => c.cx),
    );
    await screenshot(page, 'pareto-front');
    await page.close();
  } finally {
    await w.close();
  }
});
