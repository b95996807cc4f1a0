import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseClassesJson, parseManifest, formatManifest } from './dataset.js';
import { DatasetInvalidError } from './errors/dataset-invalid-error.js';

const SOURCE = 's3://bkt/datasets/pets/manifest.jsonl';
const CLASSES = ['cat', 'dog', 'outdoor'];

function issuesOf(run: () => unknown): { line?: number; message: string }[] {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof DatasetInvalidError, String(error));
    assert.equal(error.code, 'DATASET_INVALID');
    return error.issues.map(({ line, message }) =>
      line === undefined ? { message } : { line, message },
    );
  }
  assert.fail('expected DatasetInvalidError');
}

test('parseManifest reads entries, skips blank lines and CRLF, detects multi-label', () => {
  const single = parseManifest(
    '{"key":"images/1.jpg","labels":["cat"]}\r\n\n{"key":"images/2.jpg","labels":["dog"]}\n',
    CLASSES,
    SOURCE,
  );
  assert.deepEqual(single.entries, [
    { key: 'images/1.jpg', labels: ['cat'] },
    { key: 'images/2.jpg', labels: ['dog'] },
  ]);
  assert.equal(single.multiLabel, false);
  const multi = parseManifest('{"key":"a.jpg","labels":["cat","outdoor"]}', CLASSES, SOURCE);
  assert.equal(multi.multiLabel, true);
});

test('parseManifest names the line and the problem for every bad line', () => {
  const text = [
    '{"key":"images/1.jpg","labels":["cat"]}',
    '{"key":"images/2.jpg","labels":["cat"]',
    '{"labels":["cat"]}',
    '{"key":"images/3.jpg","labels":["horse"]}',
    '{"key":"images/1.jpg","labels":["dog"]}',
    '{"key":"/abs.jpg","labels":["dog"]}',
    '{"key":"../up.jpg","labels":["dog"]}',
    '{"key":"images/4.jpg","labels":[]}',
    '{"key":"images/5.jpg","label":["dog"]}',
    '["images/6.jpg"]',
    '{"key":"images/7.jpg","labels":["dog","dog"]}',
    '{"key":7,"labels":"dog"}',
  ].join('\n');
  const issues = issuesOf(() => parseManifest(text, CLASSES, SOURCE));
  assert.deepEqual(
    issues.map((issue) => issue.line),
    [2, 3, 4, 5, 6, 7, 8, 9, 9, 10, 11, 12, 12],
  );
  const messages = issues.map((issue) => issue.message);
  assert.equal(messages[0], 'is not valid JSON');
  assert.equal(messages[1], 'missing "key"');
  assert.equal(messages[2], 'label 1 is not in classes.json');
  assert.equal(messages[3], 'repeats the "key" of line 1');
  assert.match(messages[4] ?? '', /must be relative/);
  assert.match(messages[5] ?? '', /'\.\.' path segment/);
  assert.match(messages[6] ?? '', /"labels" is empty/);
  assert.match(messages[7] ?? '', /1 unknown field\(s\); allowed: key, labels/);
  assert.equal(messages[8], 'missing "labels"');
  assert.match(messages[9] ?? '', /must be a JSON object/);
  assert.match(messages[10] ?? '', /label 2 repeats an earlier label/);
  assert.match(messages[11] ?? '', /"key" must be a string/);
});

test('the error message names the object and line, and caps the list', () => {
  const text = Array.from({ length: 30 }, (_, i) => `{"key":"${i}.jpg","labels":["x"]}`).join('\n');
  let message = '';
  try {
    parseManifest(text, CLASSES, SOURCE, { maxIssues: 25 });
  } catch (error) {
    assert.ok(error instanceof DatasetInvalidError);
    assert.equal(error.issues.length, 25);
    message = error.message;
  }
  assert.match(message, /25 problem\(s\)/);
  assert.match(
    message,
    /s3:\/\/bkt\/datasets\/pets\/manifest\.jsonl line 1: label 1 is not in classes\.json/,
  );
  assert.match(message, /\.\.\. and 15 more/);
});

test('an empty manifest is invalid', () => {
  assert.deepEqual(
    issuesOf(() => parseManifest('\n\n', CLASSES, SOURCE)),
    [{ message: 'the manifest is empty (no entries)' }],
  );
});

test('parseClassesJson wants a non-empty array of unique non-empty strings', () => {
  assert.deepEqual(parseClassesJson('["a","b"]', 'classes.json'), ['a', 'b']);
  assert.equal(issuesOf(() => parseClassesJson('{', 'c'))[0]?.message, 'is not valid JSON');
  assert.match(issuesOf(() => parseClassesJson('{"a":1}', 'c'))[0]?.message ?? '', /JSON array/);
  assert.deepEqual(
    issuesOf(() => parseClassesJson('[]', 'c')),
    [{ message: 'lists no classes' }],
  );
  assert.deepEqual(
    issuesOf(() => parseClassesJson('["a","a",""]', 'c')),
    [
      { message: 'entry 1 repeats an earlier class name' },
      { message: 'entry 2 is empty; class names must be non-empty strings' },
    ],
  );
});

test('formatManifest round-trips through parseManifest', () => {
  const entries = [
    { key: 'images/a b.jpg', labels: ['cat'] },
    { key: 'images/ü.jpg', labels: ['dog', 'outdoor'] },
  ];
  assert.deepEqual(parseManifest(formatManifest(entries), CLASSES, SOURCE).entries, entries);
});
