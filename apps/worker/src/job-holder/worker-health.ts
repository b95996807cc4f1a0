import type { Logger } from '../logger.js';
import type { WorkerMetrics } from '../metrics.js';

/** Options of {@link WorkerHealth}. */
export interface WorkerHealthOptions {
  /** Seconds of outage waited out (trials given back without attempts) before failures count. */
  readonly outageBudgetSeconds: number;
  /** Consecutive worker-side failures before the worker quarantines itself. */
  readonly quarantineAfter: number;
  readonly logger: Logger;
  readonly metrics?: WorkerMetrics | undefined;
  /** Called once when the worker quarantines (the runtime stops taking jobs). */
  readonly onQuarantine?: () => void;
}

/** Longest delay before a trial given back in an outage is taken again. */
const MAX_OUTAGE_RETRY_DELAY_MS = 30_000;

/**
 * What the worker knows about its own fitness: whether its engine passed preflight, whether Redis
 * or S3 has been unreachable (an outage, since when), and whether it quarantined itself after
 * consecutive worker-side failures. It answers readiness (`/readyz`, setrain_worker_ready).
 */
export class WorkerHealth {
  private preflightPassed = false;
  private outageSince: number | undefined;
  private outageFailures = 0;
  private workerFailures = 0;
  private quarantineReason: string | undefined;

  constructor(private readonly options: WorkerHealthOptions) {
    this.publish();
  }

  get quarantined(): boolean {
    return this.quarantineReason !== undefined;
  }

  /** Why the worker is not ready to take trials; undefined when it is. */
  notReadyReason(): string | undefined {
    if (this.quarantineReason !== undefined) return `quarantined: ${this.quarantineReason}`;
    if (!this.preflightPassed) return 'the engine preflight has not passed';
    if (this.outageSince !== undefined) return 'Redis or S3 is unreachable';
    return undefined;
  }

  preflightSucceeded(): void {
    this.preflightPassed = true;
    this.publish();
  }

  /** A trial started training or finished: the services answer and the worker works. */
  recordSuccess(): void {
    if (this.outageSince !== undefined) {
      this.options.logger.info(
        {
          seconds: Math.round((Date.now() - this.outageSince) / 1000),
        },
        'outage over',
      );
    }
    this.outageSince = undefined;
    this.outageFailures = 0;
    this.workerFailures = 0;
    this.publish();
  }

  /**
   * A trial failed because Redis or S3 was unreachable. Returns the delay before it should be
   * taken again when the outage budget is not spent (give it back without an attempt), or
   * undefined when it is (the failure uses an attempt like any other).
   */
  recordOutage(): number | undefined {
    this.outageSince ??= Date.now();
    this.outageFailures += 1;
    this.publish();
    if (Date.now() - this.outageSince > this.options.outageBudgetSeconds * 1000) return undefined;
    return Math.min(MAX_OUTAGE_RETRY_DELAY_MS, 1000 * 2 ** Math.min(this.outageFailures - 1, 5));
  }

  /**
   * A failure that points at this worker (the trainer crashed, the engine failed, an unexpected
   * error). Returns true when it quarantined the worker.
   */
  recordWorkerFailure(reason: string): boolean {
    this.workerFailures += 1;
    if (
      this.quarantineReason === undefined &&
      this.workerFailures >= this.options.quarantineAfter
    ) {
      this.quarantine(
        `${this.workerFailures} failures in a row on this worker, the last: ${reason}`,
      );
      return true;
    }
    return this.quarantined;
  }

  /** Stops taking trials until the worker is restarted. */
  quarantine(reason: string): void {
    if (this.quarantineReason !== undefined) return;
    this.quarantineReason = reason;
    this.options.logger.error(
      { reason },
      'worker quarantined: it takes no more trials and gives back any it gets; restart it once the cause is fixed',
    );
    this.publish();
    this.options.onQuarantine?.();
  }

  private publish(): void {
    this.options.metrics?.setReadiness({
      ready: this.notReadyReason() === undefined,
      quarantined: this.quarantined,
    });
  }
}
