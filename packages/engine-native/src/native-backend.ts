import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { BackendValues, DataId, TensorInfo } from '@tensorflow/tfjs-core';

import type { NativeAddon } from './addon.js';
import { Float32BufferPool } from './buffer-pool.js';
import type { KernelQueue } from './kernel-queue.js';

/**
 * The cpu backend's storage (one TypedArray per tensor) with native kernels on top: every kernel
 * the cpu backend has also runs here, and the heavy ones are replaced by oneDNN and OpenMP code that
 * reads and writes the same arrays.
 *
 * It also tracks which arrays may be seen outside the kernels (read by dataSync()/data(), or
 * handed to a cpu-backend kernel that may keep a view of them). An array that was never exposed and
 * belongs to exactly one tensor can be updated in place, which the fused Adam step does, and can be
 * reused for a new tensor once its tensor is disposed, which the kernels' output arrays do.
 *
 * With the kernel queue on, an array may still be in use by a queued kernel: every read from
 * JavaScript (readSync, read, a cpu-backend kernel's inputs via syncInputs) first waits for it.
 */
export class NativeBackend extends MathBackendCPU {
  readonly addon: NativeAddon;
  /** Output arrays of the native kernels, reused after their tensors are disposed. */
  readonly pool = new Float32BufferPool();
  private readonly exposed = new WeakSet<object>();

  readonly queue: KernelQueue;

  constructor(queue: KernelQueue) {
    super();
    // The kernels go through the queue's tracked addon, which records what each queued one uses.
    this.addon = queue.kernels;
    this.queue = queue;
    // The cpu backend prints "install our node backend ... to speed things up dramatically" on its
    // first tensor in Node; here that advice is wrong (this backend is the fast one). The flag is
    // private in the typings, hence the cast.
    (this as unknown as { firstUse: boolean }).firstUse = false;
  }

  override readSync(dataId: DataId): BackendValues {
    this.syncData(dataId);
    const values = super.readSync(dataId);
    this.exposed.add(values);
    return values;
  }

  override async read(dataId: DataId): Promise<BackendValues> {
    this.syncData(dataId);
    const values = await super.read(dataId);
    this.exposed.add(values);
    return values;
  }

  override disposeData(dataId: DataId, force = false): boolean {
    const values = this.data.has(dataId) ? this.data.get(dataId).values : undefined;
    const deleted = super.disposeData(dataId, force);
    // Deleted means no tensor holds these values any more (views and shared references count as
    // exposed, see expose), so an array the pool handed out can be handed out again.
    if (deleted && values instanceof Float32Array && !this.data.has(dataId)) {
      if (!this.exposed.has(values)) this.pool.give(values);
    }
    return deleted;
  }

  /** Waits until no queued kernel touches these tensors' arrays: before JavaScript reads them. */
  syncInputs(tensors: readonly (TensorInfo | undefined)[]): void {
    for (const t of tensors) if (t !== undefined) this.syncData(t.dataId);
  }

  private syncData(dataId: DataId): void {
    if (!this.data.has(dataId)) return;
    const entry = this.data.get(dataId);
    this.queue.sync(entry.values);
    // A complex tensor's parts are tensors of their own.
    if (entry.complexTensorInfos !== undefined) {
      this.syncData(entry.complexTensorInfos.real.dataId);
      this.syncData(entry.complexTensorInfos.imag.dataId);
    }
  }

  override dispose(): void {
    this.queue.drain();
    this.pool.clear();
    super.dispose();
  }

  /** Marks the storage of these tensors as possibly referenced outside this backend. */
  expose(tensors: readonly (TensorInfo | undefined)[]): void {
    for (const t of tensors) {
      if (t === undefined || !this.data.has(t.dataId)) continue;
      const values = this.data.get(t.dataId).values;
      if (values != null) this.exposed.add(values);
    }
  }

  /** The tensor's Float32Array when nothing else can observe it changing: one reference, never
   * exposed, and a whole buffer or a view the pool handed out (nothing else sees its buffer). */
  privateFloat32(t: TensorInfo): Float32Array | undefined {
    if (t.dtype !== 'float32' || !this.data.has(t.dataId)) return undefined;
    const entry = this.data.get(t.dataId);
    const values = entry.values;
    if (!(values instanceof Float32Array) || entry.refCount !== 1 || this.exposed.has(values))
      return undefined;
    if (!this.pool.handedOut(values)) {
      if (values.byteOffset !== 0 || values.byteLength !== values.buffer.byteLength)
        return undefined;
    }
    return values;
  }
}
