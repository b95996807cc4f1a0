import type { BackendValues } from '@tensorflow/tfjs-core';

import type { NativeAddon } from './addon.js';
import { NativeBackendError } from './native-backend-error.js';

/** The addon's kernels: each returns a ticket when queued (setAsync on), 0 when it ran at once. */
export const QUEUEABLE_KERNELS = [
  'conv2d',
  'conv2dBackpropInput',
  'conv2dBackpropFilter',
  'matmul',
  'binary',
  'unary',
  'reduce',
  'batchNorm',
  'batchNormGrad',
  'batchNormTrain',
  'batchNormTrainGrad',
  'copy2d',
  'pool',
  'poolGrad',
  'adam',
] as const satisfies readonly (keyof NativeAddon)[];

/** Kept arrays are dropped (checked against completed()) once this many accumulate. */
const TRIM_EVERY = 1024;
/**
 * Most kernels queued and not yet run; past it, a call waits for the oldest half to run. A training
 * step reads its loss, which bounds the queue to about one step (1,769 kernel calls at 75x75), but a
 * loop that reads nothing (SGD through minimize() without the cost, predictions kept for later)
 * would otherwise queue without end, keeping every input array of those kernels alive.
 */
export const MAX_QUEUED_KERNELS = 8192;

/**
 * The JavaScript half of the addon's kernel queue (csrc/kernel_queue.h). With it on, a kernel call
 * returns as soon as its arguments are checked, and the kernel runs on the queue's thread in call
 * order, while this thread builds the next ops (tfjs engine, tape, layers: about a third of a 75x75
 * step is such JavaScript, which otherwise leaves every kernel thread waiting).
 *
 * Two things keep that invisible to tfjs:
 * - every array a queued kernel touches is kept reachable here until the kernel has run, so the
 *   garbage collector cannot free memory the queue's thread still reads or writes;
 * - `sync(values)` waits for the last queued kernel that touched an array before JavaScript reads
 *   or writes it (NativeBackend calls it in readSync/read and before every cpu-backend kernel).
 * Kernels need no such wait among themselves: the queue runs them in call order, so a kernel sees
 * every earlier kernel's writes, and an array the pool hands to a new output is written only after
 * the kernels that read its previous contents.
 */
export class KernelQueue {
  /** The addon, with every queued kernel call tracked; kernels are built on this. */
  readonly kernels: NativeAddon;
  private readonly lastTicket = new WeakMap<ArrayBufferLike, number>();
  private keptArrays: Float32Array[] = [];
  private keptTickets: number[] = [];
  private trimAt = TRIM_EVERY;
  private completedUpTo = 0;
  private lastSubmitted = 0;
  private on = false;
  private waitedMs = 0;
  private waits = 0;
  private deepest = 0;

  constructor(private readonly addon: NativeAddon) {
    // At exit (process.exit() included) C++ teardown frees what kernels use (oneDNN's and the
    // addon's statics): queued kernels finish first.
    process.once('exit', () => {
      try {
        this.drain();
      } catch {
        // A queued kernel failed, and nothing will read its result any more: exit as asked.
      }
    });
    const kernels: NativeAddon = { ...addon };
    for (const name of QUEUEABLE_KERNELS) {
      // The addon's functions ignore `this`; each kernel's own signature is in NativeAddon, and
      // the wrapper passes its arguments and result through unchanged.
      const run = Reflect.get(addon, name) as (...args: unknown[]) => number;
      kernels[name] = (...args: unknown[]) => {
        const ticket = run(...args);
        if (ticket > 0) this.track(ticket, args);
        return ticket;
      };
    }
    this.kernels = kernels;
  }

  /** Whether kernels are queued (true) or run on the calling thread (false). */
  get async(): boolean {
    return this.on;
  }

  /** Turns queueing on or off; turning it off first runs every queued kernel. */
  setAsync(on: boolean): void {
    if (on === this.on) return;
    if (!on) this.drain();
    this.addon.setAsync(on ? 1 : 0);
    this.on = on;
  }

  /** Returns once no queued kernel touches `values` any more: call before JavaScript reads or
   * writes a tensor's array. Throws NativeBackendError when a queued kernel failed. */
  sync(values: BackendValues | undefined): void {
    if (!ArrayBuffer.isView(values)) return;
    const ticket = this.lastTicket.get(values.buffer);
    if (ticket !== undefined && ticket > this.completedUpTo) this.waitFor(ticket);
  }

  /** Returns once every queued kernel has run (throws like sync). */
  drain(): void {
    if (this.lastSubmitted > this.completedUpTo) this.waitFor(this.lastSubmitted);
    this.keptArrays = [];
    this.keptTickets = [];
    this.trimAt = TRIM_EVERY;
  }

  /** Time the queue's thread ran kernels, time and count of JavaScript waiting for it, and the
   * most kernels queued at once (at most MAX_QUEUED_KERNELS). */
  stats(): { kernelMs: number; waitedMs: number; waits: number; deepestQueue: number } {
    return {
      kernelMs: this.addon.busyMs(),
      waitedMs: this.waitedMs,
      waits: this.waits,
      deepestQueue: this.deepest,
    };
  }

  private waitFor(ticket: number): void {
    const began = performance.now();
    this.waits++;
    try {
      this.addon.wait(ticket);
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      throw new NativeBackendError(
        'KERNEL_FAILED',
        `a queued native kernel failed (${text}); the tensors it and the kernels queued after it ` +
          'wrote are invalid: dispose them and run the step again, or turn the kernel queue off ' +
          'to see the failing op where it is called (loadNativeBackend({ asyncKernels: false }); ' +
          'a setrain worker: SETRAIN_ENGINE_KERNEL_QUEUE=false)',
        { cause: error },
      );
    } finally {
      this.waitedMs += performance.now() - began;
      this.completedUpTo = Math.max(this.completedUpTo, this.addon.completed());
    }
  }

  private track(ticket: number, args: readonly unknown[]): void {
    this.lastSubmitted = ticket;
    for (const arg of args) {
      if (arg instanceof Float32Array) {
        this.lastTicket.set(arg.buffer, ticket);
        this.keptArrays.push(arg);
        this.keptTickets.push(ticket);
      }
    }
    if (this.keptArrays.length >= this.trimAt) this.trim();
    if (ticket - this.completedUpTo > MAX_QUEUED_KERNELS) {
      this.completedUpTo = Math.max(this.completedUpTo, this.addon.completed());
      if (ticket - this.completedUpTo > MAX_QUEUED_KERNELS) {
        this.waitFor(ticket - MAX_QUEUED_KERNELS / 2);
      }
    }
    this.deepest = Math.max(this.deepest, ticket - this.completedUpTo);
  }

  /** Lets go of the arrays of kernels that have run. */
  private trim(): void {
    this.completedUpTo = Math.max(this.completedUpTo, this.addon.completed());
    let done = 0;
    while (done < this.keptTickets.length && (this.keptTickets[done] ?? 0) <= this.completedUpTo)
      done++;
    if (done > 0) {
      this.keptArrays = this.keptArrays.slice(done);
      this.keptTickets = this.keptTickets.slice(done);
    }
    // When the queue's thread is far behind, check again only after as many more: linear overall.
    this.trimAt = Math.max(TRIM_EVERY, 2 * this.keptArrays.length);
  }
}
