import type { BackendName } from './engine-names.js';
import { cpuLoader } from './loaders/cpu.js';
import { nativeLoader } from './loaders/native.js';
import { tensorflowLoader } from './loaders/tensorflow.js';
import { wasmLoader } from './loaders/wasm.js';
import { webgpuLoader } from './loaders/webgpu.js';
import type { EngineLoader } from './types.js';

/**
 * The engine table, in the order `auto` tries it (fastest expected first). Adding an engine is
 * one loader module, one entry here and its name in BACKEND_NAMES (same position).
 */
export const ENGINE_LOADERS: readonly EngineLoader[] = [
  tensorflowLoader,
  webgpuLoader,
  nativeLoader,
  wasmLoader,
  cpuLoader,
];

export function engineLoader(name: BackendName): EngineLoader {
  const loader = ENGINE_LOADERS.find((candidate) => candidate.name === name);
  if (loader === undefined) throw new Error(`no loader for engine ${name}`);
  return loader;
}
