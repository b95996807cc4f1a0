/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// Functions passed to page.evaluate run in the browser: they need the DOM types.
/**
 * The dashboard in a real headless Chromium against a real stack: redis-server, s3rver, the API
 * process (serving /ui) and two worker processes training on the wasm engine at 75x75. The key is
 * entered in the page; a YAML error is shown at its field; a 2-trial sweep is previewed, submitted
 * and followed live (table and curves update as epochs finish); the best trial's downloads verify
 * against their sha256; the trial page renders; a second sweep is cancelled from the page.
 * Screenshots go to test-artifacts/ui.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';

import { type Browser, type Page } from 'puppeteer-core';

import { uploadShapesDataset } from './fixtures/shapes-dataset.js';
import { waitFor } from './harness/index.js';
import { startLocalStack, type LocalStack } from './stack/local-stack.js';
import { buildUi, launchChromium, screenshot } from './ui/browser.js';

/** Two trials of 2 epochs on 10 images; generous because the suite shares 2 cores. */
const SWEEP_TIMEOUT_MS = 480_000;

let stack: LocalStack;
let browser: Browser;
let page: Page;
let dataset: string;

function spec(name: string, epochs: number, rates: string): string {
  return `name: ${name}
dataset: ${dataset}
model:
  inputSize: 75
training:
  epochs: ${epochs}
  batchSize: 4
  optimizer: sgd
  momentum: 0
  validationSplit: 0.2
  seed: 5
search:
  strategy: grid
  parameters:
    learningRate: ${rates}
objective: { metric: val_loss, goal: minimize }
parallelism: 2
`;
}

before(async () => {
  buildUi();
  stack = await startLocalStack({ workers: 2, engine: 'wasm' });
  const uploaded = await uploadShapesDataset(stack.s3.client, stack.bucket, 'datasets/shapes', {
    count: 10,
    seed: 11,
  });
  dataset = uploaded.manifestUri;
  browser = await launchChromium();
  page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

async function setSpec(text: string): Promise<void> {
  await page.$eval(
    '#spec-text',
    (el, value) => {
      const area = el as HTMLTextAreaElement;
      area.value = value;
      area.dispatchEvent(new Event('input', { bubbles: true }));
    },
    text,
  );
}

async function clickButton(label: string): Promise<void> {
  const clicked = await page.evaluate((text) => {
    const button = [...document.querySelectorAll('button')].find(
      (b) => b.textContent?.trim() === text && b.offsetParent !== null,
    );
    button?.click();
    return button !== undefined;
  }, label);
  assert.ok(clicked, `no visible button "${label}"`);
}

test('the dashboard drives a real sweep', async (t) => {
  let finished = false;
  t.after(async () => {
    if (!finished) await screenshot(page, 'failure').catch(() => undefined);
  });
  await page.goto(`${stack.apiUrl}/ui/`);
  // The key is asked for first, then the sweeps list loads with it.
  await page.waitForSelector('#api-key');
  await page.type('#api-key', stack.apiKey);
  await clickButton('Continue');
  await page.waitForSelector('table[aria-label="Sweeps"]');

  // A spec error is shown at its field (the line of `max:` under learningRate).
  await page.goto(`${stack.apiUrl}/ui/#/submit`);
  await page.waitForSelector('#spec-text');
  await setSpec(spec('bad', 1, '{ type: log_uniform, min: 0.1, max: 0.01 }'));
  await clickButton('Preview');
  const error = await page.waitForSelector('li.has-error .field-error');
  const errorText = await error!.evaluate((el) => el.textContent ?? '');
  const errorLine = await error!.evaluate((el) => el.parentElement?.id);
  assert.match(errorText, /search\.parameters\.learningRate/);
  const specLines = spec('bad', 1, '{ type: log_uniform, min: 0.1, max: 0.01 }').split('\n');
  const learningRateLine = specLines.findIndex((l) => l.includes('learningRate')) + 1;
  assert.equal(errorLine, `line-${learningRateLine}`, errorText);
  await screenshot(page, 'submit-error');

  // Preview, then submit a 2-trial grid.
  await setSpec(spec('ui-live', 2, '[0.01, 0.05]'));
  await clickButton('Preview');
  await page.waitForSelector('table[aria-label="First configurations"] tbody tr');
  const previewRows = await page.$$eval(
    'table[aria-label="First configurations"] tbody tr',
    (rows) => rows.length,
  );
  assert.equal(previewRows, 2);
  await clickButton('Submit sweep');
  await page.waitForFunction(() => location.hash.startsWith('#/sweeps/sw-'));
  const sweepId = decodeURIComponent((await page.evaluate(() => location.hash)).split('/')[2]!);
  await page.waitForSelector('#trial-table tbody tr[data-trial]');

  // Live: the table's epoch column and the curves' points grow as epochs finish (no reload).
  const progress = () =>
    page.evaluate(() => ({
      epochs: [...document.querySelectorAll('#trial-table tbody tr[data-trial]')].map((row) =>
        Number(row.children[3]?.textContent),
      ),
      points: Number(
        document.querySelector('[data-metric="val_loss"]')?.getAttribute('data-points'),
      ),
      status: document.querySelector('#sweep-title .status')?.textContent,
    }));
  await waitFor(async () => (await progress()).points >= 1, {
    what: 'the first epoch on the curves',
    timeoutMs: SWEEP_TIMEOUT_MS,
    intervalMs: 500,
  });
  const early = await progress();
  await screenshot(page, 'sweep-running');
  await waitFor(async () => (await progress()).status === 'completed', {
    what: 'the sweep to complete on the page',
    timeoutMs: SWEEP_TIMEOUT_MS,
    intervalMs: 1000,
  });
  const done = await progress();
  assert.deepEqual(done.epochs, [2, 2]);
  assert.equal(done.points, 4);
  assert.ok(early.points < done.points, `curves grew live: ${early.points} -> ${done.points}`);

  // The best trial's artifacts: every link's bytes hash to the sha256 shown next to it.
  await page.waitForSelector('#best-card table[aria-label="Best trial artifacts"] a[data-sha256]');
  await screenshot(page, 'sweep-completed');
  const links = await page.$$eval('#best-card a[data-sha256]', (as) =>
    as.map((a) => ({ href: a.href, sha256: a.getAttribute('data-sha256') })),
  );
  const verified = links.filter((l) => l.sha256 !== '');
  assert.ok(verified.length >= 2, JSON.stringify(links));
  for (const link of verified) {
    const bytes = Buffer.from(await (await fetch(link.href)).arrayBuffer());
    assert.equal(createHash('sha256').update(bytes).digest('hex'), link.sha256, link.href);
  }

  // The trial page: one row per epoch.
  const trialHref = await page.$eval('#trial-table tbody tr[data-trial] a', (a) =>
    a.getAttribute('href'),
  );
  await page.goto(`${stack.apiUrl}/ui/${trialHref}`);
  await page.waitForSelector('#epoch-table tbody tr');
  assert.equal(await page.$$eval('#epoch-table tbody tr', (rows) => rows.length), 2);
  await screenshot(page, 'trial');

  // Cancel from the page: a longer sweep stops, its trials end as cancelled.
  await page.goto(`${stack.apiUrl}/ui/#/submit`);
  await page.waitForSelector('#spec-text');
  await setSpec(spec('ui-cancel', 30, '[0.01, 0.05]'));
  await clickButton('Submit sweep');
  await page.waitForFunction(
    (id) => location.hash.startsWith('#/sweeps/sw-') && !location.hash.includes(id),
    {},
    sweepId,
  );
  await page.waitForSelector('#trial-table tbody tr[data-trial] .status-running', {
    timeout: SWEEP_TIMEOUT_MS,
  });
  await clickButton('Cancel sweep');
  await page.waitForSelector('dialog[open]');
  await screenshot(page, 'cancel-confirm');
  await clickButton('Confirm');
  await page.waitForFunction(
    () => {
      const statuses = [...document.querySelectorAll('#trial-table .status')].map(
        (s) => s.textContent,
      );
      return (
        document.querySelector('#sweep-title .status')?.textContent === 'cancelled' &&
        statuses.length > 0 &&
        statuses.every((s) => s !== 'running' && s !== 'queued')
      );
    },
    { timeout: 120_000 },
  );
  await screenshot(page, 'sweep-cancelled');
  finished = true;
});
