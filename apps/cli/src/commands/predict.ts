import { initEngine, type EngineName } from '@setrain/engine';

import { loadCheckpoint } from '../checkpoint/load-checkpoint.js';
import { predictImages } from '../checkpoint/predict-images.js';
import type { CommandContext } from '../context.js';
import { writeJson } from '../context.js';
import { CliError, EXIT_CODES } from '../errors.js';
import { formatNumber } from '../output/table.js';

/** `setrain predict <checkpoint-dir> <image...>`: top labels with scores. */
export async function predict(
  ctx: CommandContext,
  dir: string,
  images: string[],
  options: { json?: boolean; top?: number; threshold?: number; engine?: EngineName },
): Promise<void> {
  if (images.length === 0)
    throw new CliError('name at least one image to predict', EXIT_CODES.usage);
  await initEngine({ backend: options.engine ?? 'auto' });
  const checkpoint = await loadCheckpoint(dir);
  try {
    const predictions = await predictImages(checkpoint, images, {
      ...(options.top !== undefined ? { topK: options.top } : {}),
      ...(options.threshold !== undefined ? { threshold: options.threshold } : {}),
    });
    if (options.json) {
      writeJson(ctx, predictions);
      return;
    }
    for (const p of predictions) {
      const top = p.top.map((t) => `${t.label} ${formatNumber(t.score)}`).join(', ');
      ctx.out.write(`${p.image}: ${p.predicted.join(', ') || '(no label)'}   [${top}]\n`);
    }
  } finally {
    checkpoint.model.dispose();
  }
}
