import type { InitEngineOptions } from '@setrain/engine';

import type { PreflightRequest } from '../trial-ipc.js';

/** initEngine's options for the engine settings a worker passes to its trainer processes. */
export function engineOptionsOf(request: PreflightRequest): InitEngineOptions {
  return {
    backend: request.engine,
    ...(request.engineThreads === undefined ? {} : { threads: request.engineThreads }),
    ...(request.engineKernelQueue === undefined ? {} : { kernelQueue: request.engineKernelQueue }),
  };
}
