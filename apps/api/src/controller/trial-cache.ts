import { isTerminalTrialStatus } from '@setrain/protocol';

import { type SweepRecord } from '../sweep-record.js';
import { type StoredTrial, type SweepStore, type TrialsReadAhead } from '../sweep-store.js';

/** A sweep's trials as this controller left them, valid while the record is at `version`. */
interface CachedSweep {
  readonly version: number;
  readonly trials: readonly StoredTrial[];
}

/** What a read found: the trials by trial number, and whether they were all read from Redis. */
export interface TrialRead {
  readonly trials: StoredTrial[];
  readonly full: boolean;
}

/**
 * The trials of each sweep as this process's last advance left them, so that an advance after a
 * queue event re-reads only the unfinished trials (one HMGET) instead of the whole trials hash
 * and parsing every state (which made the controller's cost per trial grow with the sweep).
 *
 * The cache is trusted only while nobody else wrote the sweep: every trial is created together
 * with a record write (version + 1), so a record still at the version this process wrote last, and
 * a trials hash of the same length, mean no trial was added elsewhere. Finished trials are not
 * re-read (a worker may still append to their attempt log; the controller decides nothing from
 * it); the reconcile loop's full passes and a sweep's settling read everything again.
 */
export class TrialCache {
  private readonly bySweep = new Map<string, CachedSweep>();

  constructor(private readonly store: SweepStore) {}

  /**
   * The unfinished trials the cache holds, to be re-read with the record (one round trip: see
   * SweepStore.lockWithReads); undefined when nothing is cached. read() checks what was read
   * against the record's version.
   */
  openIds(sweepId: string): string[] | undefined {
    const cached = this.bySweep.get(sweepId);
    return cached === undefined ? undefined : openIdsOf(cached.trials);
  }

  /**
   * The sweep's trials: from the cache plus fresh unfinished ones (`prefetched` when given), or
   * (`full`, or no valid cache) all of them.
   */
  async read(
    record: Pick<SweepRecord, 'id' | 'version'>,
    full: boolean,
    prefetched?: TrialsReadAhead,
  ): Promise<TrialRead> {
    const cached = this.bySweep.get(record.id);
    if (full || cached === undefined || cached.version !== record.version) {
      return this.readAll(record.id);
    }
    const openIds = openIdsOf(cached.trials);
    const fresh =
      prefetched !== undefined && sameIds(prefetched.trialIds, openIds)
        ? prefetched.fresh
        : await this.store.getStoredTrialsById(record.id, openIds);
    if (fresh.total !== cached.trials.length || fresh.trials.includes(undefined)) {
      return this.readAll(record.id);
    }
    const byId = new Map<string, StoredTrial>();
    for (const trial of fresh.trials) if (trial !== undefined) byId.set(trial.state.trialId, trial);
    const trials = cached.trials.map((t) => byId.get(t.state.trialId) ?? t);
    return { trials, full: false };
  }

  /** Remembers the trials (by trial number) as stored when the record is at `version`. */
  remember(sweepId: string, version: number, trials: readonly StoredTrial[]): void {
    this.bySweep.set(sweepId, { version, trials });
  }

  forget(sweepId: string): void {
    this.bySweep.delete(sweepId);
  }

  private async readAll(sweepId: string): Promise<TrialRead> {
    this.bySweep.delete(sweepId);
    return { trials: await this.store.getStoredTrials(sweepId), full: true };
  }
}

function openIdsOf(trials: readonly StoredTrial[]): string[] {
  return trials.filter((t) => !isTerminalTrialStatus(t.state.status)).map((t) => t.state.trialId);
}

function sameIds(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}
