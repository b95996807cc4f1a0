import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as tf from '@tensorflow/tfjs-core';

import { EngineError } from './engine-error.js';
import { DEFAULT_ENGINE, parseEngineName, type BackendName } from './engine-names.js';
import { ENGINE_LOADERS, engineLoader } from './engines.js';
import { errorMessage } from './optional-import.js';
import type {
  EngineInfo,
  EngineLoadContext,
  EngineLoader,
  InitEngineOptions,
  SkippedEngine,
} from './types.js';

/** Where Dawn gets its XDG_RUNTIME_DIR when the process has none (per user: it must be 0700). */
export const DEFAULT_XDG_RUNTIME_DIR = join(
  tmpdir(),
  `setrain-xdg-runtime-${process.getuid?.() ?? 'user'}`,
);

/** How long Dawn may take to answer requestAdapter/requestDevice before webgpu is given up. */
export const DEFAULT_WEBGPU_TIMEOUT_MS = 30_000;

/**
 * Loads a tfjs backend and makes it the global tfjs engine's active backend.
 *
 * `auto` tries BACKEND_NAMES in order and takes the first that loads; the answer lists every
 * candidate passed over with its reason. A named engine that cannot load raises EngineError
 * 'ENGINE_UNAVAILABLE' with the reason. Tensors made on a previously active backend stay
 * usable: tfjs moves their data to the new backend the first time a kernel reads them.
 */
export async function initEngine(options: InitEngineOptions = {}): Promise<EngineInfo> {
  // tfjs' cpu backend (which native extends) greets Node users with advice to install tfjs-node;
  // setrain chooses engines itself and reports the choice, so that banner only misleads. PROD
  // silences tfjs' console logging and nothing else that training relies on.
  tf.env().set('PROD', true);
  const requested = parseEngineName(options.backend ?? DEFAULT_ENGINE);
  if (
    options.threads !== undefined &&
    !(Number.isInteger(options.threads) && options.threads >= 1)
  ) {
    throw new EngineError(
      'ENGINE_INVALID_OPTION',
      `threads must be a positive integer, got ${String(options.threads)}`,
    );
  }
  const context: EngineLoadContext = {
    auto: requested === 'auto',
    threads: options.threads,
    kernelQueue: options.kernelQueue,
    xdgRuntimeDir: options.xdgRuntimeDir ?? DEFAULT_XDG_RUNTIME_DIR,
    allowSoftwareWebgpu: options.allowSoftwareWebgpu ?? false,
    webgpuTimeoutMs: options.webgpuTimeoutMs ?? DEFAULT_WEBGPU_TIMEOUT_MS,
  };
  if (requested !== 'auto') {
    try {
      return await activate(engineLoader(requested), context, requested, []);
    } catch (error) {
      if (error instanceof EngineError) throw error;
      throw new EngineError('ENGINE_UNAVAILABLE', `${requested}: ${errorMessage(error)}`, {
        cause: error,
      });
    }
  }
  const skipped: SkippedEngine[] = [];
  for (const loader of ENGINE_LOADERS) {
    try {
      return await activate(loader, context, requested, skipped);
    } catch (error) {
      skipped.push({ backend: loader.name, reason: errorMessage(error) });
    }
  }
  throw new EngineError(
    'ENGINE_NONE_AVAILABLE',
    `no engine could be loaded: ${skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')}`,
  );
}

async function activate(
  loader: EngineLoader,
  context: EngineLoadContext,
  requested: EngineInfo['requested'],
  skipped: SkippedEngine[],
): Promise<EngineInfo> {
  let loaded = await loader.load(context);
  const name: BackendName = loader.name;
  if (tf.findBackendFactory(name) === null && tf.findBackend(name) === null) {
    throw new EngineError(
      'ENGINE_UNAVAILABLE',
      `loading ${name} registered no tfjs backend named '${name}'`,
    );
  }
  // setBackend logs and answers false when the backend's initialiser throws.
  if (!(await tf.setBackend(name))) {
    throw new EngineError('ENGINE_UNAVAILABLE', `tfjs could not initialise the ${name} backend`);
  }
  await tf.ready();
  if (loader.afterSelect !== undefined) loaded = await loader.afterSelect(loaded);
  const info: EngineInfo = { backend: name, requested, description: loaded.description, skipped };
  if (loaded.threads !== undefined) info.threads = loaded.threads;
  return info;
}
