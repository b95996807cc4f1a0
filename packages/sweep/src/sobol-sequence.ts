import { SweepError } from './errors.js';
import { deriveSeed, Prng } from './prng.js';

/** Bits per coordinate: points are 32-bit binary fractions, enough for 2^32 trials. */
const BITS = 32;
const TWO_POW_32 = 2 ** 32;

/**
 * Joe & Kuo (2008) direction numbers, file `new-joe-kuo-6.21201`, dimensions 2-21 as
 * [s (degree), a (polynomial coefficients), m_1..m_s]. Dimension 1 is van der Corput (all m = 1).
 */
const JOE_KUO: readonly (readonly number[])[] = [
  [1, 0, 1],
  [2, 1, 1, 3],
  [3, 1, 1, 3, 1],
  [3, 2, 1, 1, 1],
  [4, 1, 1, 1, 3, 3],
  [4, 4, 1, 3, 5, 13],
  [5, 2, 1, 1, 5, 5, 17],
  [5, 4, 1, 1, 5, 5, 5],
  [5, 7, 1, 1, 7, 11, 19],
  [5, 11, 1, 1, 5, 1, 1],
  [5, 13, 1, 1, 1, 3, 11],
  [5, 14, 1, 3, 5, 5, 31],
  [6, 1, 1, 3, 3, 9, 7, 49],
  [6, 13, 1, 1, 1, 15, 21, 21],
  [6, 16, 1, 3, 1, 13, 27, 49],
  [6, 19, 1, 1, 1, 15, 7, 5],
  [6, 22, 1, 3, 1, 15, 13, 25],
  [6, 25, 1, 1, 5, 5, 19, 61],
  [7, 1, 1, 3, 7, 11, 23, 15, 103],
  [7, 4, 1, 3, 7, 13, 13, 15, 69],
];

/** Dimensions the built-in direction numbers cover. */
export const SOBOL_MAX_DIMENSIONS = JOE_KUO.length + 1;

/** Direction numbers V_1..V_32 of one dimension, as 32-bit binary fractions. */
function directionNumbers(dimension: number): Uint32Array {
  const v = new Uint32Array(BITS);
  if (dimension === 0) {
    for (let k = 0; k < BITS; k++) v[k] = 2 ** (BITS - 1 - k);
    return v;
  }
  const row = JOE_KUO[dimension - 1] ?? [];
  const s = row[0] ?? 0;
  const a = row[1] ?? 0;
  for (let k = 0; k < s && k < BITS; k++) v[k] = ((row[2 + k] ?? 0) * 2 ** (BITS - 1 - k)) >>> 0;
  for (let k = s; k < BITS; k++) {
    let value = (v[k - s] ?? 0) ^ ((v[k - s] ?? 0) >>> s);
    for (let j = 1; j < s; j++) {
      if ((a >>> (s - 1 - j)) & 1) value ^= v[k - j] ?? 0;
    }
    v[k] = value >>> 0;
  }
  return v;
}

function parity(x: number): number {
  x ^= x >>> 16;
  x ^= x >>> 8;
  x ^= x >>> 4;
  x ^= x >>> 2;
  x ^= x >>> 1;
  return x & 1;
}

/** Multiplies a 32-bit binary fraction by a lower-triangular bit matrix (rows MSB first). */
function applyMatrix(rows: Uint32Array, x: number): number {
  let out = 0;
  for (let r = 0; r < BITS; r++) {
    if (parity((rows[r] ?? 0) & x)) out |= 1 << (BITS - 1 - r);
  }
  return out >>> 0;
}

/** Options of a Sobol sequence. */
export interface SobolOptions {
  /**
   * Scramble with a random linear matrix scrambling plus a random digital shift (Matoušek 1998),
   * seeded by `seed`. Both keep the (t, m, s)-net structure, so every 2^k-point prefix still
   * stratifies each axis; scrambling only removes the sequence's regular artefacts (and point 0
   * at the origin). Default true.
   */
  scramble?: boolean;
  /** Seed of the scrambling. Default 0. */
  seed?: number;
}

/**
 * The Sobol low-discrepancy sequence in Gray-code order (as Joe & Kuo's and SciPy's generators
 * emit it), computed directly from the point index so any point is available without the ones
 * before it.
 */
export class SobolSequence {
  private readonly directions: Uint32Array[];
  private readonly shifts: Uint32Array;

  constructor(
    readonly dimensions: number,
    options: SobolOptions = {},
  ) {
    if (!Number.isInteger(dimensions) || dimensions < 1 || dimensions > SOBOL_MAX_DIMENSIONS) {
      throw new SweepError(
        'TOO_MANY_DIMENSIONS',
        `sobol supports 1 to ${SOBOL_MAX_DIMENSIONS} non-constant parameters; got ${dimensions}`,
      );
    }
    const scramble = options.scramble ?? true;
    this.shifts = new Uint32Array(dimensions);
    this.directions = [];
    for (let d = 0; d < dimensions; d++) {
      let v = directionNumbers(d);
      if (scramble) {
        const rng = new Prng(deriveSeed(options.seed ?? 0, 0x50b01, d));
        const rows = new Uint32Array(BITS);
        for (let r = 0; r < BITS; r++) {
          // Row r: a 1 on the diagonal and random bits strictly above it in significance.
          const diagonal = 2 ** (BITS - 1 - r);
          const above = r === 0 ? 0 : (rng.nextUint32() & ~(diagonal * 2 - 1)) >>> 0;
          rows[r] = (above | diagonal) >>> 0;
        }
        v = v.map((x) => applyMatrix(rows, x));
        this.shifts[d] = rng.nextUint32();
      }
      this.directions.push(v);
    }
  }

  /** Point `index` (0-based) as 32-bit integers, one per dimension. */
  pointBits(index: number): number[] {
    if (!Number.isSafeInteger(index) || index < 0 || index >= TWO_POW_32) {
      throw new SweepError('INVALID_TRIAL_NUMBER', `sobol point index out of range: ${index}`);
    }
    const gray = (index ^ Math.floor(index / 2)) >>> 0;
    return this.directions.map((v, d) => {
      let x = this.shifts[d] ?? 0;
      for (let k = 0; k < BITS; k++) {
        if ((gray >>> k) & 1) x ^= v[k] ?? 0;
      }
      return x >>> 0;
    });
  }

  /** Point `index` (0-based) in [0, 1)^dimensions. */
  point(index: number): number[] {
    return this.pointBits(index).map((x) => x / TWO_POW_32);
  }
}
