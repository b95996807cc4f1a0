import { EngineError } from './engine-error.js';

/**
 * Engines in the order `auto` tries them: the production GPU path first, pure JS last.
 * The order of this list is the order of the loader table in engines.ts.
 */
export const BACKEND_NAMES = ['tensorflow', 'webgpu', 'native', 'wasm', 'cpu'] as const;

/** A concrete engine (a tfjs backend this package can load). */
export type BackendName = (typeof BACKEND_NAMES)[number];

/** Every value `initEngine({ backend })` accepts. */
export const ENGINE_NAMES = ['auto', ...BACKEND_NAMES] as const;

/** `auto` or a concrete engine. */
export type EngineName = (typeof ENGINE_NAMES)[number];

/** The engine initEngine picks when none is named. */
export const DEFAULT_ENGINE: EngineName = 'auto';

export function isEngineName(value: unknown): value is EngineName {
  return typeof value === 'string' && (ENGINE_NAMES as readonly string[]).includes(value);
}

/** Validates an engine name (from config, a CLI flag, a job payload) and says which are allowed. */
export function parseEngineName(value: unknown): EngineName {
  if (isEngineName(value)) return value;
  throw new EngineError(
    'ENGINE_UNKNOWN',
    `unknown engine ${JSON.stringify(value)}; allowed: ${ENGINE_NAMES.join(', ')}`,
  );
}
