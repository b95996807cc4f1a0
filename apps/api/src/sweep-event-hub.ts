import { type SweepStore } from './sweep-store.js';
import {
  SweepWatcher,
  type EventListener,
  type SerializedEvent,
  type SweepWatcherOptions,
} from './sweep-watcher.js';

/** What a subscriber gets: the events to send first, and how to stop listening. */
export interface SweepSubscription {
  readonly initial: SerializedEvent[];
  readonly close: () => void;
}

/** Options of {@link SweepEventHub}. */
export interface SweepEventHubOptions extends SweepWatcherOptions {
  /** How long a sweep's state is kept after its last client left (a reload or reconnect then needs
   * no full read from Redis); default 30 s. Its poll loop stops at once. */
  readonly lingerMs?: number;
}
export const DEFAULT_WATCHER_LINGER_MS = 30_000;

/**
 * The API process's sweep watchers: at most one per sweep, created by the first client that
 * watches it; its poll loop stops when the last one leaves, and its state is dropped `lingerMs`
 * later unless a client came back.
 */
export class SweepEventHub {
  private readonly watchers = new Map<string, SweepWatcher>();
  private readonly expiry = new Map<SweepWatcher, NodeJS.Timeout>();

  constructor(
    private readonly store: SweepStore,
    private readonly options: SweepEventHubOptions = {},
    private readonly onError: (error: unknown, sweepId: string) => void = () => undefined,
  ) {}

  /** Sweeps watched right now (metrics, tests). */
  get watchedSweeps(): number {
    return this.watchers.size;
  }

  async subscribe(
    sweepId: string,
    listener: EventListener,
    lastEventId?: string,
  ): Promise<SweepSubscription> {
    let watcher = this.watchers.get(sweepId);
    if (watcher === undefined) {
      watcher = new SweepWatcher(this.store, sweepId, this.options, (error) => {
        this.onError(error, sweepId);
      });
      this.watchers.set(sweepId, watcher);
    }
    const current = watcher;
    clearTimeout(this.expiry.get(current));
    this.expiry.delete(current);
    try {
      const initial = await current.subscribe(listener, lastEventId);
      return {
        initial,
        close: () => {
          this.leave(current, listener);
        },
      };
    } catch (error) {
      if (current.listenerCount === 0) this.drop(current);
      throw error;
    }
  }

  /** Stops every watcher (the app is closing). */
  close(): void {
    for (const watcher of this.watchers.values()) watcher.stop();
    for (const timer of this.expiry.values()) clearTimeout(timer);
    this.watchers.clear();
    this.expiry.clear();
  }

  private leave(watcher: SweepWatcher, listener: EventListener): void {
    if (!watcher.unsubscribe(listener)) return;
    const timer = setTimeout(() => {
      this.drop(watcher);
    }, this.options.lingerMs ?? DEFAULT_WATCHER_LINGER_MS);
    timer.unref();
    this.expiry.set(watcher, timer);
  }

  private drop(watcher: SweepWatcher): void {
    watcher.stop();
    this.expiry.delete(watcher);
    if (this.watchers.get(watcher.sweepId) === watcher) this.watchers.delete(watcher.sweepId);
  }
}
