import type { Augmentation } from '@setrain/protocol';

import { Prng } from '@setrain/sweep';

/** One image ready for batching: where it came from and its multi-hot target. */
export interface Sample {
  /** s3:// URI, for error messages. */
  readonly uri: string;
  readonly target: Float32Array;
}

/** Decoded pixels of the samples, by sample index (a {@link DecodedImages} packed file). */
export interface PixelSource {
  /** Side of the square images it holds (the base size, before crops). */
  readonly size: number;
  /** Sample `index`'s `size * size * 3` RGB bytes. */
  read(index: number): Promise<Uint8Array>;
}

/** How one training sample is augmented in one epoch; drawn up front so prefetching keeps order. */
export interface SamplePlan {
  readonly index: number;
  readonly flip: boolean;
  readonly cropX: number;
  readonly cropY: number;
}

/** A batch as flat arrays, ready for tf.tensor4d / tensor2d. */
export interface BatchArrays {
  /** [n, size, size, 3] raw 0..255 pixels. */
  readonly pixels: Float32Array;
  /** [n, numClasses] multi-hot targets. */
  readonly targets: Float32Array;
  readonly count: number;
}

/** Multi-hot target of a label list over `classes`. */
export function multiHot(
  labels: readonly string[],
  classIndex: ReadonlyMap<string, number>,
): Float32Array {
  const target = new Float32Array(classIndex.size);
  for (const label of labels) {
    const index = classIndex.get(label);
    if (index !== undefined) target[index] = 1;
  }
  return target;
}

/**
 * Splits n samples into train and validation index lists, deterministically from the seed. At least
 * one sample lands on each side (so n must be >= 2).
 */
export function splitIndices(
  n: number,
  validationSplit: number,
  seed: number,
): { train: number[]; validation: number[] } {
  const order = Prng.forStream(seed, 'split').shuffle(Array.from({ length: n }, (_, i) => i));
  const validationCount = Math.min(n - 1, Math.max(1, Math.round(n * validationSplit)));
  return {
    validation: order.slice(0, validationCount).sort((a, b) => a - b),
    train: order.slice(validationCount),
  };
}

/** Side the image is resized to before a crop of `inputSize` is taken (= inputSize without crops). */
export function baseSizeFor(inputSize: number, augmentation: Augmentation): number {
  return augmentation.crop ? Math.round(inputSize / augmentation.cropFraction) : inputSize;
}

/** Shuffles the training indices and draws each sample's flip and crop from `random`. */
export function planEpoch(
  trainIndices: readonly number[],
  random: Prng,
  augmentation: Augmentation,
  inputSize: number,
): SamplePlan[] {
  const base = baseSizeFor(inputSize, augmentation);
  const slack = base - inputSize;
  return random.shuffle(trainIndices).map((index) => ({
    index,
    flip: augmentation.flip && random.next() < 0.5,
    cropX: slack > 0 ? random.nextInt(slack + 1) : 0,
    cropY: slack > 0 ? random.nextInt(slack + 1) : 0,
  }));
}

/** Validation samples: no flip, centre crop. */
export function planValidation(
  indices: readonly number[],
  augmentation: Augmentation,
  inputSize: number,
): SamplePlan[] {
  const offset = Math.floor((baseSizeFor(inputSize, augmentation) - inputSize) / 2);
  return indices.map((index) => ({ index, flip: false, cropX: offset, cropY: offset }));
}

/**
 * Reads, crops and flips the planned samples into batch arrays. The pixels were decoded once into
 * `images` (see decoded-cache.ts); reads run on libuv's thread pool, so a batch loaded while the
 * previous one trains costs the training loop nothing.
 */
export async function loadBatch(
  images: PixelSource,
  samples: readonly Sample[],
  plans: readonly SamplePlan[],
  inputSize: number,
  numClasses: number,
): Promise<BatchArrays> {
  const baseSize = images.size;
  const count = plans.length;
  const pixels = new Float32Array(count * inputSize * inputSize * 3);
  const targets = new Float32Array(count * numClasses);
  const decoded = await Promise.all(plans.map((plan) => images.read(plan.index)));
  plans.forEach((plan, i) => {
    const image = decoded[i] as Uint8Array;
    const sample = samples[plan.index] as Sample;
    targets.set(sample.target, i * numClasses);
    const out = i * inputSize * inputSize * 3;
    for (let y = 0; y < inputSize; y++) {
      const row = (y + plan.cropY) * baseSize;
      if (!plan.flip) {
        // An unflipped row is one contiguous run: set() converts uint8 to float32 natively, several
        // times faster than the per-pixel loop (bench:data's warm epoch).
        const from = (row + plan.cropX) * 3;
        pixels.set(image.subarray(from, from + inputSize * 3), out + y * inputSize * 3);
        continue;
      }
      for (let x = 0; x < inputSize; x++) {
        const sourceX = inputSize - 1 - x;
        const from = (row + sourceX + plan.cropX) * 3;
        const to = out + (y * inputSize + x) * 3;
        pixels[to] = image[from] as number;
        pixels[to + 1] = image[from + 1] as number;
        pixels[to + 2] = image[from + 2] as number;
      }
    }
  });
  return { pixels, targets, count };
}

/** Splits a plan into consecutive batches of at most `batchSize`. */
export function chunk<T>(items: readonly T[], batchSize: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += batchSize) out.push(items.slice(i, i + batchSize));
  return out;
}
