/** Most bytes the free lists hold; beyond it, released arrays are left to the garbage collector. */
export const DEFAULT_POOL_MAX_BYTES = 1024 * 2 ** 20;
/** Shorter arrays are allocated plainly: pooling them saves less than it costs. */
export const MIN_POOLED_LENGTH = 4096;
/**
 * An idle array up to this many times longer than asked for is handed out as a view of its start.
 * Exact lengths only (1) left a fifth to a third of a training step's pooled bytes idle at its peak
 * (arrays of lengths the forward pass does not ask for, waiting for the backward pass); with 2 the
 * step's peak RSS fell by 3% at 75x75 and 8% at 139x139 (README, Performance), at no measured cost
 * in speed. The waste of a view is at most half its array, and it is live only while its tensor is.
 */
export const MAX_FIT_RATIO = 2;

/**
 * Reuses the Float32Arrays behind tensors that were disposed. A training step allocates the same
 * few hundred shapes every time (hundreds of MB per step at 139x139); fresh arrays cost a zero fill,
 * page faults on first touch and garbage-collector pressure from external memory, which measured
 * about as much as the convolutions' filter reorders. An array is reused for the same length or, as a
 * view of its start, for a shorter one (best fit, up to MAX_FIT_RATIO), and only when its owner
 * (NativeBackend) knows nothing else can still see it.
 */
export class Float32BufferPool {
  private readonly free = new Map<number, Float32Array[]>();
  /** Arrays this pool allocated: the only ones it takes back. */
  private readonly owned = new WeakSet<Float32Array>();
  /** Arrays on a free list now, so one array is never handed out twice. */
  private readonly idle = new WeakSet<Float32Array>();
  private idleBytes = 0;
  /** The capacities with idle arrays, ascending. */
  private readonly capacities: number[] = [];
  /** The whole array behind each view handed out. */
  private readonly bases = new WeakMap<Float32Array, Float32Array>();

  constructor(private readonly maxBytes: number = DEFAULT_POOL_MAX_BYTES) {}

  /** An array of `length` floats with unspecified contents: the caller writes every element. */
  take(length: number): Float32Array {
    if (length < MIN_POOLED_LENGTH) return new Float32Array(length);
    const capacity = this.bestFit(length);
    const reused = capacity === undefined ? undefined : this.free.get(capacity)?.pop();
    if (capacity !== undefined && reused !== undefined) {
      if (this.free.get(capacity)?.length === 0) this.dropCapacity(capacity);
      this.idle.delete(reused);
      this.idleBytes -= reused.byteLength;
      if (reused.length === length) return reused;
      const view = reused.subarray(0, length);
      this.bases.set(view, reused);
      return view;
    }
    const fresh = new Float32Array(length);
    this.owned.add(fresh);
    return fresh;
  }

  /** The smallest idle capacity that holds `length` floats within the allowed waste. */
  private bestFit(length: number): number | undefined {
    const keys = this.capacities;
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((keys[mid] ?? 0) < length) lo = mid + 1;
      else hi = mid;
    }
    const found = keys[lo];
    return found !== undefined && found <= length * MAX_FIT_RATIO ? found : undefined;
  }

  private dropCapacity(capacity: number): void {
    this.free.delete(capacity);
    const i = this.capacities.indexOf(capacity);
    if (i >= 0) this.capacities.splice(i, 1);
  }

  /** Whether `values` is an array this pool handed out (whole or as a view of a larger one). */
  handedOut(values: Float32Array): boolean {
    return this.owned.has(this.bases.get(values) ?? values);
  }

  /** Takes back an array that no tensor holds and nothing outside the backend has seen. */
  give(handed: Float32Array): void {
    const values = this.bases.get(handed) ?? handed;
    if (!this.owned.has(values) || this.idle.has(values)) return;
    if (this.idleBytes + values.byteLength > this.maxBytes) {
      this.owned.delete(values);
      return;
    }
    let list = this.free.get(values.length);
    if (list === undefined) {
      list = [];
      this.free.set(values.length, list);
      const at = this.capacities.findIndex((c) => c > values.length);
      this.capacities.splice(at < 0 ? this.capacities.length : at, 0, values.length);
    }
    list.push(values);
    this.idle.add(values);
    this.idleBytes += values.byteLength;
  }

  /** Bytes held on the free lists. */
  get heldBytes(): number {
    return this.idleBytes;
  }

  /** Drops every free array (the garbage collector frees them). */
  clear(): void {
    for (const list of this.free.values()) for (const values of list) this.idle.delete(values);
    this.free.clear();
    this.capacities.length = 0;
    this.idleBytes = 0;
  }
}
