import { EngineError } from '../engine-error.js';
import { errorMessage, importOptional } from '../optional-import.js';
import type { EngineLoadContext, EngineLoader, LoadedEngine } from '../types.js';

/** Workspace package with the oneDNN addon. Not a dependency: it may be absent or unbuilt. */
export const NATIVE_ENGINE_PACKAGE = '@setrain/engine-native';

/** The part of @setrain/engine-native this package relies on. */
type LoadNativeBackend = (options: {
  threads?: number;
  asyncKernels?: boolean;
}) => Promise<{ description: string }>;

/** oneDNN kernels in a Node addon (@setrain/engine-native); registers the tfjs backend 'native'. */
export const nativeLoader: EngineLoader = {
  name: 'native',
  async load(context: EngineLoadContext): Promise<LoadedEngine> {
    let loaded: Record<string, unknown> | undefined;
    try {
      loaded = await importOptional(NATIVE_ENGINE_PACKAGE);
    } catch (error) {
      throw new EngineError(
        'ENGINE_UNAVAILABLE',
        `${NATIVE_ENGINE_PACKAGE} failed to load: ${errorMessage(error)}`,
        { cause: error },
      );
    }
    if (loaded === undefined) {
      throw new EngineError('ENGINE_UNAVAILABLE', `${NATIVE_ENGINE_PACKAGE} is not installed`);
    }
    if (typeof loaded.loadNativeBackend !== 'function') {
      throw new EngineError(
        'ENGINE_UNAVAILABLE',
        `${NATIVE_ENGINE_PACKAGE} does not export loadNativeBackend()`,
      );
    }
    const loadNativeBackend = loaded.loadNativeBackend as LoadNativeBackend;
    try {
      const { description } = await loadNativeBackend({
        ...(context.threads === undefined ? {} : { threads: context.threads }),
        ...(context.kernelQueue === undefined ? {} : { asyncKernels: context.kernelQueue }),
      });
      return context.threads === undefined
        ? { description }
        : { description, threads: context.threads };
    } catch (error) {
      throw new EngineError('ENGINE_UNAVAILABLE', errorMessage(error), { cause: error });
    }
  },
};
