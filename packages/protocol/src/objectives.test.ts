import assert from 'node:assert/strict';
import { test } from 'node:test';

import { isMultiObjective, objectiveValuesOf, objectivesOf } from './objectives.js';
import { parseSweepSpec, SpecError } from './sweep-spec.js';
import { sweepSpecSchema } from './sweep-spec.js';

const base = {
  dataset: 's3://setrain/datasets/shapes/manifest.jsonl',
  search: { strategy: 'tpe', parameters: { seRatio: [4, 8, 16] } },
};

function issuesOf(input: unknown): string[] {
  try {
    parseSweepSpec(input);
  } catch (err) {
    assert.ok(err instanceof SpecError);
    return err.issues.map((i) => `${i.path}: ${i.message}`);
  }
  assert.fail('expected a SpecError');
}

test('objectives: a list; objective becomes its epoch metric; the stored spec parses again', () => {
  const spec = parseSweepSpec({
    ...base,
    objectives: [
      { metric: 'val_accuracy', goal: 'maximize' },
      { metric: 'latency_ms', goal: 'minimize' },
      { metric: 'param_count' },
    ],
  });
  assert.deepEqual(spec.objective, { metric: 'val_accuracy', goal: 'maximize' });
  assert.deepEqual(
    objectivesOf(spec).map((o) => `${o.metric}:${o.goal}`),
    ['val_accuracy:maximize', 'latency_ms:minimize', 'param_count:minimize'],
  );
  assert.equal(isMultiObjective(spec), true);
  // A stored record holds both fields; the schema (what reads records back) accepts that.
  assert.deepEqual(sweepSpecSchema.parse(JSON.parse(JSON.stringify(spec))), spec);
  // The single objective is a one-item list.
  const single = parseSweepSpec(base);
  assert.deepEqual(objectivesOf(single), [{ metric: 'val_loss', goal: 'minimize' }]);
  assert.equal(isMultiObjective(single), false);
});

test('objectives: bad lists and combinations name the field and what to do', () => {
  const both = issuesOf({
    ...base,
    objective: { metric: 'val_loss' },
    objectives: [{ metric: 'val_loss' }, { metric: 'latency_ms' }],
  });
  assert.match(both.join(), /^objectives: give either objective .* not both/);
  assert.match(
    issuesOf({ ...base, objectives: [] }).join(),
    /objectives: .*>=1|objectives: .*at least/i,
  );
  assert.match(
    issuesOf({ ...base, objectives: [{ metric: 'flops', goal: 'minimize' }] }).join(),
    /objectives\[0\]\.metric: .*param_count/,
  );
  assert.match(
    issuesOf({ ...base, objectives: [{ metric: 'latency_ms' }, { metric: 'param_count' }] }).join(),
    /objectives: list exactly one epoch metric .* got 0/,
  );
  assert.match(
    issuesOf({ ...base, objectives: [{ metric: 'val_loss' }, { metric: 'val_accuracy' }] }).join(),
    /got 2 epoch metrics/,
  );
  assert.match(
    issuesOf({ ...base, objectives: [{ metric: 'val_loss' }, { metric: 'val_loss' }] }).join(),
    /objectives\[1\]\.metric: val_loss is listed twice/,
  );
  const mo = [{ metric: 'val_loss' }, { metric: 'latency_ms' }];
  assert.match(
    issuesOf({ ...base, objectives: mo, earlyStopping: { type: 'asha' } }).join(),
    /earlyStopping: early stopping is not defined for several objectives/,
  );
  assert.match(
    issuesOf({
      ...base,
      search: { strategy: 'pbt', parameters: {} },
      objectives: mo,
    }).join(),
    /search\.strategy: strategy pbt supports one objective only/,
  );
  assert.match(
    issuesOf({ ...base, objectives: mo, budget: { targetObjective: 0.1 } }).join(),
    /budget\.targetObjective: .*Pareto front/,
  );
  // One objective in the list may early-stop, as `objective:` may.
  parseSweepSpec({ ...base, objectives: [mo[0]], earlyStopping: { type: 'asha' } });
});

test('referencePoint: one value per objective, only with several objectives', () => {
  const mo = [{ metric: 'val_loss' }, { metric: 'latency_ms' }];
  const spec = parseSweepSpec({ ...base, objectives: mo, referencePoint: [2, 50] });
  assert.deepEqual(spec.referencePoint, [2, 50]);
  assert.match(
    issuesOf({ ...base, objectives: mo, referencePoint: [2, 50, 1] }).join(),
    /^referencePoint: referencePoint has 3 values; give one per objective \(2, in objectives order\)/,
  );
  assert.match(
    issuesOf({ ...base, objective: { metric: 'val_loss' }, referencePoint: [2, 50] }).join(),
    /^referencePoint: .*needs objectives: with two or more items/,
  );
  assert.match(
    issuesOf({ ...base, objectives: mo, referencePoint: [2, 'x'] }).join(),
    /referencePoint\[1\]/,
  );
});

test('objectiveValuesOf reads the epoch metric from objectiveValue and the rest from trialMetrics', () => {
  const objectives = [
    { metric: 'val_accuracy', goal: 'maximize' },
    { metric: 'latency_ms', goal: 'minimize' },
  ] as const;
  const trialMetrics = { param_count: 1000, latency_ms: 4.5, seconds_per_epoch: 2 };
  assert.deepEqual(
    objectiveValuesOf(objectives, { objectiveValue: 0.8, trialMetrics }),
    [0.8, 4.5],
  );
  assert.equal(objectiveValuesOf(objectives, { objectiveValue: 0.8 }), undefined);
  assert.equal(objectiveValuesOf(objectives, { objectiveValue: null, trialMetrics }), undefined);
});
