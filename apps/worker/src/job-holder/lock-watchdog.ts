/** Options of {@link LockWatchdog}. */
export interface LockWatchdogOptions {
  /** BullMQ's lock duration (SETRAIN_LOCK_DURATION_MS); BullMQ renews every 1/4 to 1/2 of it. */
  readonly lockDurationMs: number;
  /**
   * Fraction of the lock duration without a successful renewal after which the lock counts as
   * lost: before it expires in Redis, so no other worker can have taken the job yet. Default 0.8.
   */
  readonly lostAfterFraction?: number;
  /** Called once per held job when its lock is lost or about to expire. */
  readonly onLost: (jobId: string, reason: string) => void;
}

interface Watched {
  readonly jobId: string;
  renewedAt: number;
  lost: boolean;
}

/**
 * Watches the BullMQ lock of the job this worker holds. BullMQ renews it in the background and
 * only reports a failure once Redis answers again (a renewal during an outage waits in the
 * connection's queue), by which time the lock may have expired and another worker may train the
 * same trial. So the watchdog counts time since the last renewal that succeeded: past
 * `lostAfterFraction` of the lock duration, or when BullMQ reports the renewal failed, the job
 * counts as lost and `onLost` stops its trainer.
 *
 * The renewal times are BullMQ's own: its `locksRenewed` event, emitted when the renewal script
 * succeeded (BullMQ 6's LockManager sends it from a setTimeout every lockDuration/4, on this same
 * event loop). So an event-loop stall of the job holder also stops BullMQ's renewals: past the
 * lock duration the lock has expired in Redis and killing the trainer is right. Between
 * `lostAfterFraction` and the full duration it would be a false positive: when the loop resumes,
 * this check and BullMQ's overdue renewal run in the same turn, this one first (its timer was due
 * first). So a check that runs late (the loop stalled) gives that renewal one more check interval
 * to land, as long as the lock can still be alive then; otherwise it decides as usual.
 * (The trainer runs in its own process; a stall here is the job holder's own, e.g. a GC pause.)
 */
export class LockWatchdog {
  private watched: Watched | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly lostAfterMs: number;
  private readonly intervalMs: number;
  private lastCheckAt = Date.now();

  constructor(private readonly options: LockWatchdogOptions) {
    this.lostAfterMs = options.lockDurationMs * (options.lostAfterFraction ?? 0.8);
    this.intervalMs = Math.max(50, options.lockDurationMs / 20);
    this.timer = setInterval(() => {
      this.check();
    }, this.intervalMs);
    this.timer.unref();
  }

  /** The job held now (its lock was just taken), or undefined when none is. */
  follow(jobId: string | undefined): void {
    if (jobId === this.watched?.jobId) return;
    this.watched = jobId === undefined ? undefined : { jobId, renewedAt: Date.now(), lost: false };
  }

  /** BullMQ's `locksRenewed` event. */
  renewed(jobIds: readonly string[]): void {
    if (this.watched !== undefined && jobIds.includes(this.watched.jobId)) {
      this.watched.renewedAt = Date.now();
    }
  }

  /** BullMQ's `lockRenewalFailed` event: the lock is gone (expired, or another worker's now). */
  renewalFailed(jobIds: readonly string[]): void {
    const watched = this.watched;
    if (watched === undefined || !jobIds.includes(watched.jobId)) return;
    this.lose(
      watched,
      'BullMQ could not renew its lock: the lock expired or another worker holds the job',
    );
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private check(): void {
    const now = Date.now();
    const lateMs = now - this.lastCheckAt - this.intervalMs;
    this.lastCheckAt = now;
    const watched = this.watched;
    if (watched === undefined || watched.lost) return;
    const sinceMs = now - watched.renewedAt;
    if (sinceMs < this.lostAfterMs) return;
    // The event loop stalled: BullMQ's overdue renewal goes out right after this check.
    const stalled = lateMs > this.intervalMs;
    if (stalled && sinceMs + this.intervalMs < this.options.lockDurationMs) return;
    this.lose(
      watched,
      `its lock was not renewed for ${(sinceMs / 1000).toFixed(1)} s (Redis unreachable?); it expires ${this.options.lockDurationMs / 1000} s after the last renewal and another worker may then take the trial`,
    );
  }

  private lose(watched: Watched, reason: string): void {
    if (watched.lost) return;
    watched.lost = true;
    this.options.onLost(watched.jobId, reason);
  }
}
