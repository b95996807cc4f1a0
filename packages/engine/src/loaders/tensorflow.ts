import { EngineError } from '../engine-error.js';
import { errorMessage, importOptional } from '../optional-import.js';
import type { EngineLoader, LoadedEngine } from '../types.js';

/** Packages that register the `tensorflow` backend, best first. Neither is a dependency. */
export const TFJS_NODE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

/**
 * libtensorflow through tfjs-node(-gpu): the production GPU path. Both packages are optional
 * peers: their install script downloads libtensorflow from a host that refuses everyone, so
 * images must supply it themselves (README: supplying libtensorflow).
 */
export const tensorflowLoader: EngineLoader = {
  name: 'tensorflow',
  async load(): Promise<LoadedEngine> {
    const reasons: string[] = [];
    for (const specifier of TFJS_NODE_PACKAGES) {
      let loaded: Record<string, unknown> | undefined;
      try {
        loaded = await importOptional(specifier);
      } catch (error) {
        reasons.push(`${specifier} failed to load: ${errorMessage(error)}`);
        continue;
      }
      if (loaded === undefined) {
        reasons.push(`${specifier} is not installed (see README: supplying libtensorflow)`);
        continue;
      }
      const version =
        typeof loaded.version === 'object' ? (loaded.version as Record<string, unknown>) : {};
      const tfjsNodeVersion =
        typeof version['tfjs-node'] === 'string' ? ` ${version['tfjs-node']}` : '';
      return { description: `${specifier}${tfjsNodeVersion} (libtensorflow)` };
    }
    throw new EngineError('ENGINE_UNAVAILABLE', reasons.join('; '));
  },
};
