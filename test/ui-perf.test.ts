/// <reference lib="dom" />
// Functions passed to page.evaluate run in the browser: they need the DOM types.
/**
 * The dashboard's sweep page with 1,000 trials x 50 epochs of synthetic state in a real Redis,
 * served by the real API (buildApp + listen) to a real headless Chromium: the page must render in
 * under 1 s and take live updates (100 trials finishing an epoch, 10 times) without long tasks
 * that freeze it. Then a page taking 40 more updates (100 trials each) must keep its DOM nodes,
 * listeners and canvases, and (compared by V8 heap snapshots after GC) its own objects, arrays and
 * strings from growing. The numbers are printed as JSON.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { type ApiApp } from '@setrain/api';
import { redisKeys, trialIdOf } from '@setrain/protocol';
import { Redis } from 'ioredis';
import { type Browser } from 'puppeteer-core';

import { startRedis, uniqueName, waitFor, type RedisServer } from './harness/index.js';
import { buildUi, launchChromium, pageWithKey, screenshot } from './ui/browser.js';
import { heapByType, jsValueGrowth, type HeapByType } from './ui/heap-snapshot.js';
import { listenRedisOnlyApi } from './ui/redis-only-api.js';
import { appendSyntheticEpoch, writeSyntheticSweep } from './ui/synthetic-sweep.js';

const API_KEY = 'ui-perf-key-0123456789';
const SWEEP = 'sw-ui-perf';
const TRIALS = 1000;
const EPOCHS = 50;
/** The bound on the first render of a 1,000-trial sweep page. */
const RENDER_BUDGET_MS = 1000;
/** A main-thread task this long during updates would be a visible freeze. */
const UPDATE_LONG_TASK_BUDGET_MS = 200;

let server: RedisServer;
let redis: Redis;
let app: ApiApp;
let base: string;
let browser: Browser;
let rates: number[];
const prefix = `{${uniqueName('uiperf')}}`;

before(async () => {
  buildUi();
  server = await startRedis();
  redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
  rates = await writeSyntheticSweep(redis, prefix, {
    sweepId: SWEEP,
    trials: TRIALS,
    epochs: EPOCHS,
    completeEvery: 2,
  });
  ({ app, base } = await listenRedisOnlyApi(redis, prefix, API_KEY, { pollIntervalMs: 250 }));
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await app?.close();
  redis?.disconnect();
  await server?.stop();
});

test('1,000 trials x 50 epochs: first render under 1 s, updates without long tasks', async () => {
  const page = await pageWithKey(browser, API_KEY);
  await page.evaluateOnNewDocument(() => {
    // The page's own global, set by the observer installed above; Window does not declare it.
    const w = window as typeof window & { longTasks: { start: number; duration: number }[] };
    w.longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries())
        w.longTasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: true });
  });
  await page.goto(`${base}/ui/#/sweeps/${SWEEP}`);
  const handle = await page.waitForFunction(
    (trials: number) => {
      const rows =
        Number(document.querySelector('#trial-table')?.getAttribute('aria-rowcount')) - 1;
      const curves = document.querySelectorAll('figure.chart canvas').length;
      const lines = document.querySelectorAll('svg.parcoords polyline').length;
      return rows === trials && curves >= 2 && lines > 0 ? performance.now() : false;
    },
    { polling: 'raf', timeout: 30_000 },
    TRIALS,
  );
  const renderedAt = (await handle.jsonValue()) as number;
  // From the snapshot's arrival (the API reading 50,000 epochs from Redis comes before it) to
  // the table, both curves and the parallel coordinates drawn.
  const snapshotAt = await page.evaluate(
    () => performance.getEntriesByName('sweep-event-received')[0]?.startTime ?? Number.NaN,
  );
  const renderedMs = renderedAt - snapshotAt;
  const profiler = process.env.UI_PROFILE ? await page.createCDPSession() : undefined;
  if (profiler) {
    await profiler.send('Profiler.enable');
    await profiler.send('Profiler.start');
  }
  await screenshot(page, 'sweep-1000-trials');

  // Updates: 100 trials finish epoch 51..60, one round per 500 ms.
  const mark = await page.evaluate(() => performance.now());
  for (let round = 1; round <= 10; round++) {
    const epoch = EPOCHS + round;
    await Promise.all(
      Array.from({ length: 100 }, (_, i) => {
        const n = 1 + ((i * 10 + round) % TRIALS);
        return appendSyntheticEpoch(redis, prefix, SWEEP, n, rates[n - 1]!, epoch);
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  await page.waitForFunction(() => performance.getEntriesByName('sweep-event-update').length >= 5, {
    timeout: 20_000,
  });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  if (profiler) {
    const { profile } = await profiler.send('Profiler.stop');
    const self = new Map<string, number>();
    const dt = profile.timeDeltas ?? [];
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    (profile.samples ?? []).forEach((id, i) => {
      const n = byId.get(id)!;
      const k = `${n.callFrame.functionName}@${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber}:${n.callFrame.columnNumber}`;
      self.set(k, (self.get(k) ?? 0) + (dt[i] ?? 0) / 1000);
    });
    console.log([...self].sort((a, b) => b[1] - a[1]).slice(0, 25));
  }
  const result = await page.evaluate((since: number) => {
    // The page's own global, set by the observer installed above; Window does not declare it.
    const w = window as typeof window & { longTasks: { start: number; duration: number }[] };
    const during = w.longTasks.filter((t) => t.start >= since);
    return {
      updates: performance.getEntriesByName('sweep-event-update').length,
      longTasks: during.length,
      longestTaskMs: Math.max(0, ...during.map((t) => t.duration)),
      totalLongTaskMs: during.reduce((a, t) => a + t.duration, 0),
      firstRenderLongestTaskMs: Math.max(
        0,
        ...w.longTasks.filter((t) => t.start < since).map((t) => t.duration),
      ),
    };
  }, mark);
  const numbers = { trials: TRIALS, epochs: EPOCHS, snapshotAt, renderedAt, renderedMs, ...result };
  console.log(JSON.stringify(numbers));
  assert.ok(renderedMs < RENDER_BUDGET_MS, `first render took ${renderedMs} ms`);
  assert.ok(result.updates >= 5, 'updates arrived');
  assert.ok(
    result.longestTaskMs < UPDATE_LONG_TASK_BUDGET_MS,
    `a ${result.longestTaskMs} ms task during updates`,
  );
});

/** Update rounds driven into the open page for the memory measurement (each ~0.3-0.5 s). */
const MEMORY_ROUNDS = 40;
/** Rounds before the baseline is taken (lazy allocations, JIT, caches settle). */
const MEMORY_WARMUP_ROUNDS = 10;
/** The JS heap may not grow more than this from the baseline to the last round (after GC). */
const MEMORY_GROWTH_BUDGET_BYTES = 2 * 1024 * 1024;
/**
 * The page's own values (objects, closures, arrays, strings) may grow this much in all: the state
 * is replaced, never added to, so any steady growth here is a leak. (Compiled code and the
 * browser's bounded timeline buffers make up the rest of the heap's growth.)
 */
const JS_VALUE_GROWTH_BUDGET_BYTES = 64 * 1024;

/** Rewrites 100 trials' states with a new reason: an update of constant size, no new epochs. */
async function touchTrials(round: number): Promise<void> {
  const keys = redisKeys(prefix);
  const ids = Array.from({ length: 100 }, (_, i) =>
    trialIdOf(SWEEP, 1 + ((round * 100 + i) % TRIALS)),
  );
  const raws = await redis.hmget(keys.sweepTrials(SWEEP), ...ids);
  const batch = redis.multi();
  raws.forEach((raw, i) => {
    const state = JSON.parse(raw!) as Record<string, unknown>;
    batch.hset(
      keys.sweepTrials(SWEEP),
      ids[i]!,
      JSON.stringify({ ...state, reason: `round ${round}` }),
    );
  });
  await batch.exec();
}

test('a sweep page taking updates for a long time keeps a bounded JS heap', async () => {
  const page = await pageWithKey(browser, API_KEY);
  const cdp = await page.createCDPSession();
  await cdp.send('Performance.enable');
  const measure = async () => {
    await cdp.send('HeapProfiler.collectGarbage');
    const { metrics } = await cdp.send('Performance.getMetrics');
    const get = (name: string) => metrics.find((m) => m.name === name)?.value ?? Number.NaN;
    return {
      heapBytes: get('JSHeapUsedSize'),
      nodes: get('Nodes'),
      listeners: get('JSEventListeners'),
      canvases: await page.$$eval('canvas', (c) => c.length),
    };
  };
  await page.goto(`${base}/ui/#/sweeps/${SWEEP}`);
  await page.waitForSelector('#sweep-page figure.chart canvas', { timeout: 30_000 });
  const version = () => page.$eval('#sweep-page', (el) => Number(el.getAttribute('data-version')));
  const afterRender = await measure();
  const samples: { round: number; heapBytes: number }[] = [];
  let baseline = afterRender;
  let baselineHeap: HeapByType = {};
  const started = Date.now();
  for (let round = 1; round <= MEMORY_ROUNDS; round++) {
    const before = await version();
    await touchTrials(round);
    await waitFor(async () => (await version()) > before, {
      what: `update ${round} applied on the page`,
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    if (round === MEMORY_WARMUP_ROUNDS) {
      baseline = await measure();
      baselineHeap = await heapByType(cdp);
    }
    if (round % 10 === 0) samples.push({ round, heapBytes: (await measure()).heapBytes });
  }
  const last = await measure();
  const lastHeap = await heapByType(cdp);
  const jsGrowth = jsValueGrowth(baselineHeap, lastHeap);
  const growthByType = Object.fromEntries(
    Object.entries(lastHeap)
      .map(([type, v]) => [type, v.bytes - (baselineHeap[type]?.bytes ?? 0)] as const)
      .filter(([, bytes]) => bytes !== 0),
  );
  // Read after the last measurement: reading the timeline gives its entries JS objects.
  const timeline = await page.evaluate(() => {
    const byType: Record<string, number> = {};
    for (const e of performance.getEntries()) byType[e.entryType] = (byType[e.entryType] ?? 0) + 1;
    return byType;
  });
  const growth = last.heapBytes - baseline.heapBytes;
  const numbers = {
    rounds: MEMORY_ROUNDS,
    trialsPerUpdate: 100,
    seconds: Math.round((Date.now() - started) / 1000),
    afterRender,
    baseline,
    last,
    timeline,
    growthBytes: growth,
    growthPerRoundBytes: Math.round(growth / (MEMORY_ROUNDS - MEMORY_WARMUP_ROUNDS)),
    jsValueGrowthBytes: jsGrowth,
    growthByType,
    samples,
  };
  console.log(JSON.stringify(numbers));
  assert.ok(growth < MEMORY_GROWTH_BUDGET_BYTES, `the JS heap grew by ${growth} bytes`);
  assert.ok(
    jsGrowth < JS_VALUE_GROWTH_BUDGET_BYTES,
    `the page's objects, arrays and strings grew by ${jsGrowth} bytes: ${JSON.stringify(growthByType)}`,
  );
  assert.equal(last.canvases, baseline.canvases, 'no chart is drawn twice');
  assert.ok(last.nodes <= baseline.nodes * 1.1, `DOM nodes ${baseline.nodes} -> ${last.nodes}`);
  assert.ok(
    last.listeners <= baseline.listeners,
    `listeners ${baseline.listeners} -> ${last.listeners}`,
  );
  await page.close();
});
