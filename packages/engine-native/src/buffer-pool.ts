/** Most bytes the free lists hold; beyond it, released arrays are left to the garbage collector. */
export const DEFAULT_POOL_MAX_BYTES = 1024 * 2 ** 20;
/** Shorter arrays are allocated plainly: pooling them saves less than it costs. */
export const MIN_POOLED_LENGTH = 4096;

/**
 * Reuses the Float32Arrays behind tensors that were disposed. A training step allocates the same
 * few hundred shapes every time (hundreds of MB per step at 139x139); fresh arrays cost a zero fill,
 * page faults on first touch and garbage-collector pressure from external memory, which measured
 * about as much as the convolutions' filter reorders. Arrays are reused only at exactly the same
 * length, and only when their owner (NativeBackend) knows nothing else can still see them.
 */
export class Float32BufferPool {
  private readonly free = new Map<number, Float32Array[]>();
  /** Arrays this pool allocated: the only ones it takes back. */
  private readonly owned = new WeakSet<Float32Array>();
  /** Arrays on a free list now, so one array is never handed out twice. */
  private readonly idle = new WeakSet<Float32Array>();
  private idleBytes = 0;

  constructor(private readonly maxBytes: number = DEFAULT_POOL_MAX_BYTES) {}

  /** An array of `length` floats with unspecified contents: the caller writes every element. */
  take(length: number): Float32Array {
    if (length < MIN_POOLED_LENGTH) return new Float32Array(length);
    const reused = this.free.get(length)?.pop();
    if (reused !== undefined) {
      this.idle.delete(reused);
      this.idleBytes -= reused.byteLength;
      return reused;
    }
    const fresh = new Float32Array(length);
    this.owned.add(fresh);
    return fresh;
  }

  /** Takes back an array that no tensor holds and nothing outside the backend has seen. */
  give(values: Float32Array): void {
    if (!this.owned.has(values) || this.idle.has(values)) return;
    if (this.idleBytes + values.byteLength > this.maxBytes) {
      this.owned.delete(values);
      return;
    }
    let list = this.free.get(values.length);
    if (list === undefined) {
      list = [];
      this.free.set(values.length, list);
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
    this.idleBytes = 0;
  }
}
