import { SweepError } from './errors.js';

const TWO_POW_32 = 2 ** 32;

/** MurmurHash3's 32-bit finaliser: a bijection on uint32 with full avalanche. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a over the UTF-16 code units of `text`, finalised with fmix32. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  }
  return fmix32(h);
}

/**
 * Derives an independent 32-bit seed from a list of integers (e.g. sweep seed, trial number, hash of
 * a parameter name), so every (seed, trial, parameter) gets its own stream without shared state.
 * Integers beyond 32 bits contribute their high word too; non-integers are a programming error.
 */
export function deriveSeed(...parts: readonly number[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    if (!Number.isSafeInteger(part)) {
      throw new SweepError('INVALID_OPTIONS', `seeds must be safe integers; got ${part}`);
    }
    const words = [part >>> 0, Math.floor(part / TWO_POW_32) >>> 0];
    for (const word of words) {
      h = fmix32((h ^ word) + 0x6d2b79f5);
    }
  }
  return h;
}

/** The whole state of a {@link Prng}: four unsigned 32-bit words, serialisable as JSON. */
export type PrngState = readonly [number, number, number, number];

/**
 * xoshiro128** (Blackman & Vigna 2018), seeded through splitmix32 so that nearby seeds give
 * unrelated streams. Small, fast, and the project's one seeded generator: samplers draw
 * hyperparameters from it, workers split datasets and plan augmentation with it (its state goes
 * into checkpoints, so a resumed trial draws what the uninterrupted one would have), tests make
 * data with it. Nothing here calls Math.random.
 */
export class Prng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    let x = deriveSeed(seed);
    const next = (): number => {
      // splitmix32
      x = (x + 0x9e3779b9) >>> 0;
      return fmix32(x);
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** An independent stream per (seed, name), e.g. a trial's `split` and `train` streams. */
  static forStream(seed: number, stream: string): Prng {
    return new Prng(deriveSeed(seed, hashString(stream)));
  }

  /** A generator in a state saved from {@link Prng.state} (or reference test vectors). */
  static fromState(state: PrngState): Prng {
    const rng = new Prng(0);
    [rng.s0, rng.s1, rng.s2, rng.s3] = state.map((word) => word >>> 0) as [
      number,
      number,
      number,
      number,
    ];
    return rng;
  }

  /** The current state, to save and restore with {@link Prng.fromState}. */
  get state(): PrngState {
    return [this.s0, this.s1, this.s2, this.s3];
  }

  /** The next uniform uint32. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A uniform double in [0, 1) with 53 random bits. */
  next(): number {
    const high = this.nextUint32() >>> 5; // 27 bits
    const low = this.nextUint32() >>> 6; // 26 bits
    return (high * 67108864 + low) / 9007199254740992;
  }

  /** A uniform integer in [0, n). */
  nextInt(n: number): number {
    return Math.min(n - 1, Math.floor(this.next() * n));
  }

  /** A shuffled copy (Fisher-Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  }

  /** A standard normal deviate (Box-Muller; one of the pair is discarded to keep no state). */
  nextNormal(): number {
    const u = 1 - this.next(); // (0, 1]: log is finite
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
