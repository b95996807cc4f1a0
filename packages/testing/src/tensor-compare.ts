import * as tf from '@tensorflow/tfjs-core';

/** Runs `fn` on a backend and returns its tensors' values (the tensors are disposed). */
export async function valuesOn(backend: string, fn: () => tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const tensors = tf.tidy(fn);
  const values = tensors.map((t) => Float32Array.from(t.dataSync()));
  tf.dispose(tensors);
  return values;
}

/** Largest |a - b| / (atol + rtol * |b|) over the arrays; <= 1 means close. */
export function closeness(a: Float32Array, b: Float32Array, atol = 1e-5, rtol = 1e-4): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    const r = Math.abs(x - y) / (atol + rtol * Math.abs(y));
    if (!(r <= worst)) worst = Number.isNaN(r) ? Number.POSITIVE_INFINITY : r;
  }
  return worst;
}
