import type { ModelSpec } from './model-args-schema.js';
import { SEARCHABLE_PARAMS, isSearchableParam, type ParamSet } from './search-space.js';
import type { TrainingSpec } from './training.js';

/**
 * Folds a trial's sampled params into the spec's model and training sections. Every trial keeps the
 * spec's seed (common random numbers): trials then differ only by their hyperparameters, not by init,
 * split or augmentation noise, which makes the comparison between them fairer.
 */
export function resolveTrialConfig(
  base: { model: ModelSpec; training: TrainingSpec },
  params: ParamSet,
): { model: ModelSpec; training: TrainingSpec } {
  const model: Record<string, unknown> = { ...base.model };
  const training: Record<string, unknown> = { ...base.training };
  for (const [name, value] of Object.entries(params)) {
    if (!isSearchableParam(name)) throw new Error(`unknown parameter "${name}"`);
    const checked = SEARCHABLE_PARAMS[name].value.parse(value);
    (SEARCHABLE_PARAMS[name].section === 'model' ? model : training)[name] = checked;
  }
  return { model: model, training: training as TrainingSpec };
}
