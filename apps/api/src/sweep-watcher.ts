import { randomBytes } from 'node:crypto';

import {
  EPOCH_SERIES_METRICS,
  toEpochSeries,
  type EpochSeries,
  type SweepEvent,
  type SweepSummary,
  type TrialSummary,
} from '@setrain/protocol';

import { parseEpochRow } from './epoch-row.js';
import { type SweepStore } from './sweep-store.js';
import { toSweepSummary, toTrialSummary } from './views.js';

/** Options of {@link SweepWatcher}. */
export interface SweepWatcherOptions {
  /** How often the sweep's state is read from Redis while anyone watches; default 1000 ms. */
  readonly pollIntervalMs?: number;
  /** Most events kept for Last-Event-ID replay; default 64. */
  readonly replayEvents?: number;
  /** Most bytes of serialised events kept for replay; default 4 MiB. */
  readonly replayBytes?: number;
}
export const DEFAULT_EVENTS_POLL_INTERVAL_MS = 1000;
export const DEFAULT_REPLAY_EVENTS = 64;
export const DEFAULT_REPLAY_BYTES = 4 * 1024 * 1024;

/** One serialised event: its SSE id and its JSON data. */
export interface SerializedEvent {
  readonly id: string;
  readonly data: string;
}

export type EventListener = (event: SerializedEvent) => void;

/**
 * Follows one sweep's state in Redis for every client of this API process that watches it: one
 * poll loop per sweep however many clients, diffed into `update` events (changed trials, epochs
 * finished since). Keeps the current state (for snapshots) and a bounded tail of events (for
 * Last-Event-ID replay). Event ids are `<watcher instance>-<sequence>`, so an id from another
 * instance or process is recognised as unknown and answered with a snapshot.
 */
export class SweepWatcher {
  private readonly instance = randomBytes(4).toString('hex');
  private readonly pollIntervalMs: number;
  private readonly replayEvents: number;
  private readonly replayBytes: number;
  private sequence = 0;
  private sweep: SweepSummary | undefined;
  /** trialId -> the JSON its state was last read from, and its summary. */
  private readonly trials = new Map<string, { raw: string; summary: TrialSummary }>();
  private readonly epochs = new Map<string, EpochSeries>();
  private readonly replay: SerializedEvent[] = [];
  private replaySize = 0;
  private readonly listeners = new Set<EventListener>();
  private timer: NodeJS.Timeout | undefined;
  private loaded: Promise<void> | undefined;
  private polling = false;
  private initialised = false;

  constructor(
    private readonly store: SweepStore,
    readonly sweepId: string,
    options: SweepWatcherOptions = {},
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {
    this.pollIntervalMs = options.pollIntervalMs ?? DEFAULT_EVENTS_POLL_INTERVAL_MS;
    this.replayEvents = options.replayEvents ?? DEFAULT_REPLAY_EVENTS;
    this.replayBytes = options.replayBytes ?? DEFAULT_REPLAY_BYTES;
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  /**
   * Adds a listener and returns what it must be sent first: the events after `lastEventId` when
   * they are all still kept, otherwise a snapshot. Later events go to `listener`.
   */
  async subscribe(listener: EventListener, lastEventId?: string): Promise<SerializedEvent[]> {
    if (this.loaded === undefined) {
      this.loaded = this.poll();
    } else if (this.timer === undefined) {
      // Kept after its last listener left (see SweepEventHub): catch up before answering.
      await this.tick();
    }
    await this.loaded;
    this.listeners.add(listener);
    this.timer ??= setInterval(() => void this.tick(), this.pollIntervalMs);
    const index = this.replay.findIndex((e) => e.id === lastEventId);
    if (lastEventId !== undefined && lastEventId === this.lastId()) return [];
    if (index >= 0) return this.replay.slice(index + 1);
    return [this.snapshot()];
  }

  /** Removes a listener; returns true when nobody listens any more (the caller may drop it). */
  unsubscribe(listener: EventListener): boolean {
    this.listeners.delete(listener);
    if (this.listeners.size > 0) return false;
    this.stop();
    return true;
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private lastId(): string {
    return `${this.instance}-${this.sequence}`;
  }

  private snapshot(): SerializedEvent {
    const event: SweepEvent = {
      type: 'snapshot',
      // poll() ran before any subscriber gets here and throws when the sweep is missing.
      sweep: this.sweep as SweepSummary,
      trials: [...this.trials.values()].map((t) => t.summary),
      epochs: Object.fromEntries(this.epochs),
    };
    return { id: this.lastId(), data: JSON.stringify(event) };
  }

  private async tick(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      await this.poll();
    } catch (error) {
      this.onError(error);
    } finally {
      this.polling = false;
    }
  }

  /** Reads the sweep, diffs it against what was known, and publishes an update if it changed. */
  private async poll(): Promise<void> {
    const record = await this.store.getSweep(this.sweepId);
    if (record === undefined) throw new Error(`sweep ${this.sweepId} is gone`);
    const stored = await this.store.getStoredTrials(this.sweepId);
    const changed: TrialSummary[] = [];
    const needEpochs: { trialId: string; from: number }[] = [];
    for (const { raw, state } of stored) {
      const known = this.trials.get(state.trialId);
      if (known?.raw === raw) continue;
      const summary = toTrialSummary(state);
      this.trials.set(state.trialId, { raw, summary });
      changed.push(summary);
      const have = this.epochs.get(state.trialId);
      const haveCount = have === undefined ? 0 : have.from - 1 + have.loss.length;
      if (state.epochsCompleted > haveCount) {
        needEpochs.push({ trialId: state.trialId, from: haveCount + 1 });
      }
    }
    const newEpochs = await this.readEpochs(needEpochs);
    const sweep = toSweepSummary(
      record,
      stored.map((t) => t.state),
    );
    const sweepChanged = JSON.stringify(sweep) !== JSON.stringify(this.sweep);
    this.sweep = sweep;
    // The first read is the state itself (sent as snapshots), not a change.
    const first = !this.initialised;
    this.initialised = true;
    if (first || (!sweepChanged && changed.length === 0)) return;
    this.publish({ type: 'update', sweep, trials: changed, epochs: Object.fromEntries(newEpochs) });
  }

  /** Fetches each trial's epochs from `from` on (one round trip) and appends them to the series. */
  private async readEpochs(
    wanted: readonly { trialId: string; from: number }[],
  ): Promise<Map<string, EpochSeries>> {
    const added = new Map<string, EpochSeries>();
    if (wanted.length === 0) return added;
    const pipeline = this.store.redis.pipeline();
    for (const { trialId, from } of wanted) {
      pipeline.lrange(this.store.keys.trialEpochs(trialId), from - 1, -1);
    }
    const results = (await pipeline.exec()) ?? [];
    wanted.forEach(({ trialId, from }, i) => {
      const [error, raws] = results[i] ?? [null, []];
      if (error !== null || !Array.isArray(raws) || raws.length === 0) return;
      const metrics = raws.map((raw) => parseEpochRow(String(raw)));
      const series = toEpochSeries(metrics, from);
      added.set(trialId, series);
      this.epochs.set(trialId, appendSeries(this.epochs.get(trialId), series));
    });
    return added;
  }

  private publish(event: SweepEvent): void {
    this.sequence += 1;
    const serialized = { id: this.lastId(), data: JSON.stringify(event) };
    this.replay.push(serialized);
    this.replaySize += serialized.data.length;
    while (
      this.replay.length > this.replayEvents ||
      (this.replaySize > this.replayBytes && this.replay.length > 1)
    ) {
      this.replaySize -= this.replay.shift()?.data.length ?? 0;
    }
    for (const listener of this.listeners) listener(serialized);
  }
}

function appendSeries(base: EpochSeries | undefined, more: EpochSeries): EpochSeries {
  if (base === undefined) return more;
  for (const name of EPOCH_SERIES_METRICS) base[name].push(...more[name]);
  return base;
}
