import { readFile } from 'node:fs/promises';

import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';

import { CliError, EXIT_CODES } from '../errors.js';
import type { LoadedCheckpoint } from './load-checkpoint.js';

/** Labels at or above this score are reported as present by a sigmoid (multi-label) model. */
export const DEFAULT_MULTI_LABEL_THRESHOLD = 0.5;
export const DEFAULT_TOP_K = 3;

export interface LabelScore {
  label: string;
  score: number;
}

export interface ImagePrediction {
  image: string;
  /** Highest-scoring labels, best first. */
  top: LabelScore[];
  /** sigmoid models: every label scoring >= threshold; softmax models: the top label. */
  predicted: string[];
}

/** Decodes an image file to raw RGB pixels of the model's input size (0..255, as the model expects). */
export async function loadImagePixels(path: string, size: number): Promise<Float32Array> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch {
    throw new CliError(`image ${path} does not exist or cannot be read`, EXIT_CODES.usage);
  }
  try {
    const raw = await sharp(bytes)
      .removeAlpha()
      .resize(size, size, { fit: 'fill' })
      .raw()
      .toBuffer();
    return Float32Array.from(raw);
  } catch (err) {
    throw new CliError(
      `image ${path} cannot be decoded: ${(err as Error).message}`,
      EXIT_CODES.usage,
    );
  }
}

/** Runs the checkpoint's model over image files, a batch at a time, without leaking tensors. */
export async function predictImages(
  checkpoint: LoadedCheckpoint,
  paths: readonly string[],
  options: { topK?: number; threshold?: number; batchSize?: number } = {},
): Promise<ImagePrediction[]> {
  const topK = Math.min(options.topK ?? DEFAULT_TOP_K, checkpoint.classes.length);
  const threshold = options.threshold ?? DEFAULT_MULTI_LABEL_THRESHOLD;
  const batchSize = options.batchSize ?? 8;
  const size = checkpoint.inputSize;
  const results: ImagePrediction[] = [];
  for (let start = 0; start < paths.length; start += batchSize) {
    const batchPaths = paths.slice(start, start + batchSize);
    const pixels = await Promise.all(batchPaths.map((p) => loadImagePixels(p, size)));
    const flat = new Float32Array(pixels.length * size * size * 3);
    pixels.forEach((p, i) => {
      flat.set(p, i * size * size * 3);
    });
    const scores = tf.tidy(() => {
      const input = tf.tensor4d(flat, [pixels.length, size, size, 3]);
      return checkpoint.model.predict(input) as tf.Tensor;
    });
    const values = await scores.array();
    scores.dispose();
    (values as number[][]).forEach((row, i) => {
      const ranked = row
        .map((score, j) => ({ label: checkpoint.classes[j] ?? String(j), score }))
        .sort((a, b) => b.score - a.score);
      const predicted =
        checkpoint.headActivation === 'sigmoid'
          ? ranked.filter((r) => r.score >= threshold).map((r) => r.label)
          : ranked.slice(0, 1).map((r) => r.label);
      results.push({ image: batchPaths[i] ?? '', top: ranked.slice(0, topK), predicted });
    });
  }
  return results;
}
