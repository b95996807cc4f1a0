/**
 * PBT's invariants in the chaos suite. A PbtWatch polls a PBT sweep's trial states in Redis while
 * the scenario runs and records every checkpoint a trial's saved state names (its trusted root:
 * prefix and state.json's sha256) with each file's ETag; every later poll compares them again, so
 * a complete checkpoint that changes (or disappears) while a trial still names it is seen. An
 * exploit's copy is checked byte for byte (every file's sha256 and size against the copied
 * state.json) the first time its trial names it. At the sweep's end it checks each trial's lineage
 * and schedule against what it saw, and the checkpoint retention.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import { SweepStore } from '@setrain/api';
import { CHECKPOINT_FILES, runKeys, type CheckpointRoot, type TrialState } from '@setrain/protocol';
import { getObjectBytes, headObject, joinKey, listKeys } from '@setrain/storage';
import type { Redis } from 'ioredis';
import { z } from 'zod';

import type { ChaosStack } from './chaos-stack.js';

/** How often the watch reads the trials' states (a checkpoint stays named for at least an epoch). */
const POLL_MS = 300;

/** The parts of a checkpoint's state.json the watch reads (the worker owns the full schema). */
const stateFilesSchema = z.object({
  epoch: z.number().int(),
  files: z.array(z.object({ name: z.string(), sha256: z.string(), bytes: z.number().int() })),
});

/** A complete checkpoint as first seen named by its trial. */
interface SeenCheckpoint {
  readonly trialId: string;
  readonly root: CheckpointRoot;
  /** ETag of every file, state.json included. */
  readonly etags: ReadonlyMap<string, string>;
}

const seenKey = (root: Pick<CheckpointRoot, 'prefix' | 'stateSha256'>): string =>
  `${root.prefix}@${root.stateSha256}`;

const sameParams = (a: object, b: object): boolean =>
  JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());

export interface PbtWatchOptions {
  readonly sweepId: string;
  readonly perturbationInterval: number;
  /** The sweep's epochs: a completed trial ends at this epoch. */
  readonly epochs: number;
  /** Exploits the scenario needs to have tested anything (default 1). */
  readonly minExploits?: number;
  /** Where the check's summary goes (polls, checkpoints seen, copies checked, exploits). */
  readonly log: (line: string) => void;
}

export class PbtWatch {
  private readonly seen = new Map<string, SeenCheckpoint>();
  /** Each trial's parameters while it had not exploited yet. */
  private readonly initialParams = new Map<string, TrialState['params']>();
  private readonly problems = new Set<string>();
  private readonly redis: Redis;
  private readonly store: SweepStore;
  private stopped = false;
  private readonly loop: Promise<void>;
  private polls = 0;
  private copiesChecked = 0;

  private constructor(
    private readonly stack: ChaosStack,
    private readonly options: PbtWatchOptions,
  ) {
    this.redis = stack.redisClient();
    this.store = new SweepStore(this.redis, stack.keyPrefix);
    this.loop = this.run();
    stack.track(this);
  }

  /** Starts watching (stopped by `check`, or by the stack's stop when the scenario fails). */
  static start(stack: ChaosStack, options: PbtWatchOptions): PbtWatch {
    return new PbtWatch(stack, options);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    this.redis.disconnect();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      // Redis or S3 may be unreachable in a scenario: the next poll tries again.
      await this.poll().catch(() => undefined);
      await sleep(POLL_MS);
    }
  }

  private async poll(): Promise<void> {
    const trials = await this.store.getTrials(this.options.sweepId);
    for (const trial of trials) {
      if ((trial.pbt?.lineage.length ?? 0) === 0 && !this.initialParams.has(trial.trialId)) {
        this.initialParams.set(trial.trialId, trial.params);
      }
      const roots = trial.checkpoints ?? [];
      if (roots.length > this.options.perturbationInterval + 2) {
        this.problems.add(
          `trial ${trial.trialNumber} named ${roots.length} checkpoints, more than interval + 2 (epochs ${roots.map((r) => r.epoch).join(',')})`,
        );
      }
      for (const root of roots) await this.look(trial, root);
    }
    this.polls++;
  }

  /** Records a named checkpoint the first time, compares its ETags with the record later. */
  private async look(trial: TrialState, root: CheckpointRoot): Promise<void> {
    const known = this.seen.get(seenKey(root));
    if (known === undefined) {
      await this.record(trial, root);
      return;
    }
    for (const [name, etag] of known.etags) {
      const now = (
        await headObject(this.stack.s3Client, this.stack.bucket, joinKey(root.prefix, name))
      )?.etag;
      if (now !== etag && (await this.stillNamed(trial, root))) {
        this.problems.add(
          `trial ${trial.trialNumber}'s complete checkpoint ${root.prefix}${name} changed while named (ETag ${etag} -> ${now ?? 'missing'})`,
        );
      }
    }
  }

  private async record(trial: TrialState, root: CheckpointRoot): Promise<void> {
    const { bucket, s3Client } = this.stack;
    const stateKey = joinKey(root.prefix, CHECKPOINT_FILES.state);
    const state = await getObjectBytes(s3Client, bucket, stateKey).catch(() => undefined);
    const sha = state === undefined ? 'missing' : sha256(state.bytes);
    if (state === undefined || sha !== root.stateSha256) {
      if (await this.stillNamed(trial, root)) {
        this.problems.add(
          `trial ${trial.trialNumber} names ${root.prefix} (sha256 ${root.stateSha256}) but its state.json is ${sha}`,
        );
      }
      return;
    }
    const parsed = stateFilesSchema.parse(JSON.parse(new TextDecoder().decode(state.bytes)));
    const etags = new Map<string, string>([[CHECKPOINT_FILES.state, state.etag]]);
    for (const file of parsed.files) {
      const key = joinKey(root.prefix, file.name);
      const head = await headObject(s3Client, bucket, key);
      if (head === undefined) return; // deleted meanwhile (checked by stillNamed next poll)
      etags.set(file.name, head.etag);
      // An exploit's copy: every byte, once, against the copied state.json.
      if (root.prefix.includes('-pbt-')) {
        const { bytes } = await getObjectBytes(s3Client, bucket, key);
        if (sha256(bytes) !== file.sha256 || bytes.length !== file.bytes) {
          this.problems.add(`trial ${trial.trialNumber}'s copy ${key} differs from its state.json`);
        }
      }
    }
    if (root.prefix.includes('-pbt-')) this.copiesChecked++;
    if (parsed.epoch !== root.epoch) {
      this.problems.add(`${root.prefix} holds epoch ${parsed.epoch}, its root says ${root.epoch}`);
    }
    this.seen.set(seenKey(root), { trialId: trial.trialId, root, etags });
  }

  /** Whether the trial's saved state still names the root (a deleted, unnamed one is fine). */
  private async stillNamed(trial: TrialState, root: CheckpointRoot): Promise<boolean> {
    const now = await this.store.getTrial(this.options.sweepId, trial.trialId);
    return (now?.checkpoints ?? []).some((r) => seenKey(r) === seenKey(root));
  }

  /** Stops watching and returns every violation of PBT's invariants. */
  async check(): Promise<string[]> {
    await this.stop();
    const redis = this.stack.redisClient();
    try {
      const store = new SweepStore(redis, this.stack.keyPrefix);
      const trials = await store.getTrials(this.options.sweepId);
      const problems = [...this.problems];
      if (this.polls === 0) problems.push('the PBT watch never read the trials');
      const exploits = trials.reduce((n, t) => n + (t.pbt?.lineage.length ?? 0), 0);
      this.options.log(
        `pbt watch: ${this.polls} polls, ${this.seen.size} named checkpoints seen (${this.copiesChecked} exploit copies checked byte for byte), ${exploits} exploit(s)`,
      );
      if (exploits < (this.options.minExploits ?? 1)) {
        problems.push(`${exploits} exploit(s): the scenario did not exercise PBT's exploit`);
      }
      for (const trial of trials) {
        problems.push(...this.checkLineage(trial, trials), ...this.checkSchedule(trial));
        problems.push(...(await this.checkRetention(trial)));
      }
      return problems;
    } finally {
      redis.disconnect();
    }
  }

  /**
   * Each exploit: the donor is another trial of the sweep, its checkpoint of donorEpoch with that
   * sha256 was named by the donor, the copy was named by this trial with the same root and the
   * same file ETags, and parameters chain (before = the previous after; the trial's = the last).
   */
  private checkLineage(trial: TrialState, trials: readonly TrialState[]): string[] {
    const problems: string[] = [];
    const lineage = trial.pbt?.lineage ?? [];
    let params = this.initialParams.get(trial.trialId);
    for (const [i, exploit] of lineage.entries()) {
      const at = `trial ${trial.trialNumber}'s exploit ${i + 1}`;
      const donor = trials.find((t) => t.trialId === exploit.donorTrialId);
      if (donor === undefined || donor.trialId === trial.trialId) {
        problems.push(`${at}: donor ${exploit.donorTrialId} is not another trial of the sweep`);
      }
      if (exploit.atEpoch % this.options.perturbationInterval !== 0) {
        problems.push(`${at}: at epoch ${exploit.atEpoch}, not a perturbation epoch`);
      }
      if (params !== undefined && !sameParams(exploit.paramsBefore, params)) {
        problems.push(
          `${at}: paramsBefore ${JSON.stringify(exploit.paramsBefore)}, was ${JSON.stringify(params)}`,
        );
      }
      params = exploit.paramsAfter;
      const donorSeen = [...this.seen.values()].find(
        (s) =>
          s.trialId === exploit.donorTrialId &&
          s.root.epoch === exploit.donorEpoch &&
          s.root.stateSha256 === exploit.stateSha256,
      );
      if (donorSeen === undefined) {
        problems.push(
          `${at}: the donor never named an epoch ${exploit.donorEpoch} checkpoint with the copied root`,
        );
      }
      const copy = this.seen.get(
        seenKey({ prefix: exploit.checkpoint, stateSha256: exploit.stateSha256 }),
      );
      if (copy === undefined || copy.trialId !== trial.trialId) {
        problems.push(`${at}: its copy ${exploit.checkpoint} was never named by the trial`);
      } else if (donorSeen !== undefined) {
        for (const [name, etag] of donorSeen.etags) {
          if (copy.etags.get(name) !== etag)
            problems.push(`${at}: ${name} of the copy is not the donor's`);
        }
      }
    }
    if (params !== undefined && !sameParams(trial.params, params)) {
      problems.push(
        `trial ${trial.trialNumber}: parameters ${JSON.stringify(trial.params)}, its lineage says ${JSON.stringify(params)}`,
      );
    }
    return problems;
  }

  /**
   * The effective schedule: starts at epoch 1, increasing, within the epochs trained; without an
   * exploit one segment of the trial's own parameters, after one its last segment is the last
   * exploit's parameters from donorEpoch + 1, trained by the trial itself.
   */
  private checkSchedule(trial: TrialState): string[] {
    const schedule = trial.pbt?.schedule;
    if (schedule === undefined) return [];
    const at = `trial ${trial.trialNumber}'s schedule ${JSON.stringify(schedule.map((s) => s.fromEpoch))}`;
    const problems: string[] = [];
    const starts = schedule.map((s) => s.fromEpoch);
    if (starts[0] !== 1 || starts.some((e, i) => i > 0 && e <= (starts[i - 1] ?? 0))) {
      problems.push(`${at}: does not start at 1 and increase`);
    }
    if (starts.some((e) => e > Math.max(1, trial.epochsCompleted))) {
      problems.push(`${at}: starts beyond epoch ${trial.epochsCompleted}`);
    }
    const last = schedule.at(-1);
    const exploit = trial.pbt?.lineage.at(-1);
    const expected =
      exploit === undefined
        ? { fromEpoch: 1, params: trial.params, trialId: trial.trialId }
        : {
            fromEpoch: exploit.donorEpoch + 1,
            params: exploit.paramsAfter,
            trialId: trial.trialId,
          };
    if (
      last === undefined ||
      last.fromEpoch !== expected.fromEpoch ||
      last.trialId !== expected.trialId ||
      !sameParams(last.params, expected.params) ||
      (exploit === undefined && schedule.length !== 1)
    ) {
      problems.push(`${at}: does not end with ${JSON.stringify(expected)}`);
    }
    return problems;
  }

  /** At the end: a completed trial keeps exactly its budget epoch's checkpoint, an ended one at most one; nothing unnamed. */
  private async checkRetention(trial: TrialState): Promise<string[]> {
    const base = runKeys(this.options.sweepId).trial(trial.trialId).checkpointsPrefix;
    const keys = await listKeys(this.stack.s3Client, this.stack.bucket, base);
    const dirs = [...new Set(keys.map((key) => `${base}${key.slice(base.length).split('/')[0]}/`))];
    const named = (trial.checkpoints ?? []).map((r) => r.prefix);
    const at = `trial ${trial.trialNumber} (${trial.status})`;
    const problems: string[] = [];
    const unnamed = dirs.filter((d) => !named.includes(d));
    if (unnamed.length > 0)
      problems.push(`${at}: unnamed checkpoint directories ${unnamed.join(', ')}`);
    if (named.length > 1)
      problems.push(`${at}: ${named.length} checkpoints kept, expected at most 1`);
    if (trial.status === 'completed' && trial.checkpoints?.[0]?.epoch !== this.options.epochs) {
      problems.push(
        `${at}: its checkpoint is of epoch ${trial.checkpoints?.[0]?.epoch ?? 'none'}, not ${this.options.epochs}`,
      );
    }
    return problems;
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
