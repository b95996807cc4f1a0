/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// Functions passed to page.evaluate run in the browser: they need the DOM types.
/**
 * The dashboard in a real headless Chromium against a real stack: redis-server, s3rver, the API
 * process (serving /ui) and two worker processes training on the wasm engine at 75x75. The key is
 * entered in the page; a YAML error is shown at its field; a 2-trial sweep is previewed, submitted
 * and followed live (table and curves update as epochs finish); the best trial's downloads verify
 * against their sha256; the sweeps list names the submitting key; the trial page shows its epochs,
 * its attempt and worker, and its files, each of which verifies against its sha256 (presigned
 * link, API download route, the page's button); a second sweep is cancelled from the page.
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

/**
 * Every file the trial page lists (trial.json, best/, final/, checkpoints) hashes to the sha256
 * shown, both through its presigned link and through the API's download route; the page's own
 * "via API" button hands the browser the same bytes; a path not listed is a 404.
 */
async function verifyTrialArtifacts(trialPage: Page): Promise<void> {
  const files = await trialPage.$$eval('#trial-artifacts a[data-sha256]', (as) =>
    as.map((a) => ({
      href: a.href,
      path: a.getAttribute('data-path') ?? '',
      sha256: a.getAttribute('data-sha256') ?? '',
      size: Number(a.getAttribute('data-bytes')),
    })),
  );
  const paths = files.map((f) => f.path);
  for (const expected of [/^trial\.json$/, /^best\/model\.json$/, /^final\/weights\.h5$/]) {
    assert.ok(
      paths.some((p) => expected.test(p)),
      `${String(expected)} in ${paths.join(', ')}`,
    );
  }
  assert.ok(
    paths.some((p) => /^checkpoints\/.+\/state\.json$/.test(p)),
    paths.join(', '),
  );
  const hash = (bytes: ArrayBuffer) =>
    createHash('sha256').update(Buffer.from(bytes)).digest('hex');
  const trialId = decodeURIComponent(trialPage.url().split('/').pop()!);
  const auth = { authorization: `Bearer ${stack.apiKey}` };
  const throughApi = async (path: string) => {
    const url = `${stack.apiUrl}/v1/trials/${trialId}/artifacts/download?path=${encodeURIComponent(path)}`;
    const response = await fetch(url, { headers: auth });
    assert.equal(response.status, 200, path);
    return hash(await response.arrayBuffer());
  };
  // The weights are ~86 MiB each at 75x75: the small files go both ways, one weights file through
  // the API only (fetching all of them took minutes on the shared cores).
  const small = files.filter((f) => f.size < 1024 * 1024);
  assert.ok(small.length >= 6, JSON.stringify(files));
  for (const file of small) {
    assert.equal(hash(await (await fetch(file.href)).arrayBuffer()), file.sha256, file.href);
    assert.equal(await throughApi(file.path), file.sha256, file.path);
  }
  const weights = files.find((f) => f.path === 'best/weights.bin')!;
  assert.equal(await throughApi(weights.path), weights.sha256);
  const missing = await fetch(
    `${stack.apiUrl}/v1/trials/${trialId}/artifacts/download?path=../../x`,
    { headers: auth },
  );
  assert.equal(missing.status, 404);
  // The button: the blob the page saves is the file (its click on the temporary link is caught).
  const model = files.find((f) => f.path === 'best/model.json')!;
  const saved = await trialPage.evaluate(async (path) => {
    const blobs: Blob[] = [];
    const create = URL.createObjectURL.bind(URL);
    URL.createObjectURL = (blob: Blob) => (blobs.push(blob), create(blob));
    // The page's link click would start a browser download; the next navigation undoes this.
    HTMLAnchorElement.prototype.click = () => undefined;
    document
      .querySelector<HTMLButtonElement>(`button[aria-label="download ${path} through the API"]`)
      ?.click();
    for (let i = 0; i < 100 && blobs.length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const blob = blobs[0];
    if (blob === undefined) return '';
    const digest = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
    return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
  }, model.path);
  assert.equal(saved, model.sha256);
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

  // The sweeps list names the key that submitted it (the env key's name, never the key).
  await page.goto(`${stack.apiUrl}/ui/#/`);
  await page.waitForSelector('table[aria-label="Sweeps"] tbody tr');
  const listed = await page.$$eval('table[aria-label="Sweeps"] tbody tr', (rows) =>
    rows.map((row) => [...row.children].map((cell) => cell.textContent ?? '')),
  );
  const listedRow = listed.find((cells) => cells[0]?.includes(sweepId));
  assert.equal(listedRow?.at(-1), 'env-1', JSON.stringify(listed));
  assert.ok(!JSON.stringify(listed).includes(stack.apiKey));

  // The trial page: one row per epoch, its attempts with their worker, and its files.
  await page.goto(`${stack.apiUrl}/ui/#/sweeps/${encodeURIComponent(sweepId)}`);
  const trialHref = await page.waitForSelector('#trial-table tbody tr[data-trial] a');
  await page.goto(`${stack.apiUrl}/ui/${await trialHref!.evaluate((a) => a.getAttribute('href'))}`);
  await page.waitForSelector('#epoch-table tbody tr');
  assert.equal(await page.$$eval('#epoch-table tbody tr', (rows) => rows.length), 2);
  const attempts = await page.$$eval('#attempts-table tbody tr', (rows) =>
    rows.map((row) => [...row.children].map((cell) => cell.textContent ?? '')),
  );
  assert.equal(attempts.length, 1, JSON.stringify(attempts));
  assert.match(attempts[0]![1]!, /\S/, 'the worker of the attempt');
  assert.equal(attempts[0]![4], 'completed');
  await page.waitForSelector('#trial-artifacts a[data-sha256]');
  await screenshot(page, 'trial');
  await verifyTrialArtifacts(page);

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
