/** The serialisable state of a {@link SeededRandom}: four unsigned 32-bit words. */
export type SeededRandomState = readonly [number, number, number, number];

/**
 * A small, fast, seedable PRNG (sfc32) whose whole state is four integers, so a checkpoint can record
 * it and a resumed trial draws exactly the numbers the uninterrupted one would have drawn.
 */
export class SeededRandom {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** Seeds from an integer and a stream name, so independent streams (split, training) never overlap. */
  constructor(seed: number, stream = '') {
    // splitmix32-style mixing of seed and stream name into four words.
    let h = (seed >>> 0) ^ 0x9e3779b9;
    for (let i = 0; i < stream.length; i++) h = Math.imul(h ^ stream.charCodeAt(i), 0x85ebca6b);
    const next = (): number => {
      h = (h + 0x9e3779b9) >>> 0;
      let z = h;
      z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
      z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
      return (z ^ (z >>> 15)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    // Warm up: the first outputs of sfc32 from close seeds are correlated.
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  static fromState(state: SeededRandomState): SeededRandom {
    const random = new SeededRandom(0);
    [random.a, random.b, random.c, random.d] = state.map((word) => word >>> 0) as [
      number,
      number,
      number,
      number,
    ];
    return random;
  }

  get state(): SeededRandomState {
    return [this.a, this.b, this.c, this.d];
  }

  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** A shuffled copy (Fisher-Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  }
}
