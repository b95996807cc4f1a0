import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { BackendValues, DataId, TensorInfo } from '@tensorflow/tfjs-core';

import type { NativeAddon } from './addon.js';

/**
 * The cpu backend's storage (one TypedArray per tensor) with native kernels on top: every kernel
 * the cpu backend has also runs here, and the heavy ones are replaced by oneDNN and OpenMP code that
 * reads and writes the same arrays.
 *
 * It also tracks which arrays may be seen outside the kernels (read by dataSync()/data(), or
 * handed to a cpu-backend kernel that may keep a view of them). An array that was never exposed and
 * belongs to exactly one tensor can be updated in place, which the fused Adam step does.
 */
export class NativeBackend extends MathBackendCPU {
  readonly addon: NativeAddon;
  private readonly exposed = new WeakSet<object>();

  constructor(addon: NativeAddon) {
    super();
    this.addon = addon;
  }

  override readSync(dataId: DataId): BackendValues {
    const values = super.readSync(dataId);
    this.exposed.add(values);
    return values;
  }

  override async read(dataId: DataId): Promise<BackendValues> {
    const values = await super.read(dataId);
    this.exposed.add(values);
    return values;
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
   * exposed, and a whole buffer rather than a view. */
  privateFloat32(t: TensorInfo): Float32Array | undefined {
    if (t.dtype !== 'float32' || !this.data.has(t.dataId)) return undefined;
    const entry = this.data.get(t.dataId);
    const values = entry.values;
    if (!(values instanceof Float32Array) || entry.refCount !== 1 || this.exposed.has(values))
      return undefined;
    if (values.byteOffset !== 0 || values.byteLength !== values.buffer.byteLength) return undefined;
    return values;
  }
}
