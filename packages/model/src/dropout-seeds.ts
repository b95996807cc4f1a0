import type { LayersModel } from '@tensorflow/tfjs-layers';

import { layerSeed } from './layer-seeds.js';

/**
 * Seeds every Dropout layer of `model` for one training step. tfjs draws a dropout mask from
 * Math.random unless the layer has a seed, and a seeded layer re-creates its generator from that
 * seed at every call, so one fixed seed would drop the same units at every step. The training loop
 * calls this before each step instead: the seed comes from the model seed, the layer's name and
 * the global step, so a run, and a run resumed at the same step, draws the same masks. Never 0,
 * which tfjs reads as "unseeded".
 */
export function seedDropoutForStep(model: LayersModel, modelSeed: number, step: number): void {
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'Dropout') continue;
    // tfjs's Dropout reads this private field at each call and has no setter for it.
    Reflect.set(layer, 'seed', layerSeed(modelSeed, `${layer.name}/step-${step}`) || 1);
  }
}
