import { existsSync, mkdirSync, readdirSync } from 'node:fs';

import type * as Dawn from 'webgpu';

import { EngineError } from '../engine-error.js';
import { errorMessage } from '../optional-import.js';
import type { EngineLoadContext, EngineLoader, LoadedEngine } from '../types.js';

/** Adapter descriptions of software rasterisers: functional, but slower than wasm for training. */
const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|swiftshader|software/i;

/** Device nodes through which Vulkan reaches a GPU: DRM render nodes (AMD, Intel, NVIDIA open
 * driver), the NVIDIA proprietary driver's nodes, and AMD's compute node. */
const GPU_DEVICE_NODES = ['/dev/dri/renderD*', '/dev/nvidia[0-9]*', '/dev/kfd'] as const;

function hasGpuDeviceNode(): boolean {
  const dri = (() => {
    try {
      return readdirSync('/dev/dri').some((name) => name.startsWith('renderD'));
    } catch {
      return false;
    }
  })();
  if (dri || existsSync('/dev/kfd')) return true;
  try {
    return readdirSync('/dev').some((name) => /^nvidia\d+$/.test(name));
  } catch {
    return false;
  }
}

/** What Dawn reports about an adapter, reduced to what we print and decide on. */
interface AdapterSummary {
  description: string;
  software: boolean;
}

/**
 * @tensorflow/tfjs-backend-webgpu on Dawn (npm `webgpu`), which drives GPUs through Vulkan.
 * On machines without a GPU, Mesa's lavapipe (Mesa >= 25; bookworm's 22.3 lacks a feature Dawn
 * needs) provides a software adapter: `auto` skips that, naming webgpu uses it.
 */
export const webgpuLoader: EngineLoader = {
  name: 'webgpu',
  async load(context: EngineLoadContext): Promise<LoadedEngine> {
    // Without a GPU device node Dawn can only find a software adapter, which auto would refuse
    // anyway; deciding before Dawn starts saves seconds and keeps Dawn's driver chatter off stderr.
    if (context.auto && !context.allowSoftwareWebgpu && !hasGpuDeviceNode()) {
      throw unavailable(
        `no GPU device (${GPU_DEVICE_NODES.join(', ')}) on this machine; a software adapter ` +
          'would be slower than wasm (name webgpu explicitly to use one)',
      );
    }
    ensureXdgRuntimeDir(context.xdgRuntimeDir);
    let dawn: typeof Dawn;
    try {
      dawn = await import('webgpu');
    } catch (error) {
      throw unavailable(`Dawn (npm webgpu) failed to load: ${errorMessage(error)}`, error);
    }
    const gpu = installNavigatorGpu(dawn);
    const adapter = await withTimeout(
      gpu.requestAdapter({ powerPreference: 'high-performance' }),
      context.webgpuTimeoutMs,
      'requestAdapter',
    );
    if (adapter === null) {
      throw unavailable(
        'Dawn found no WebGPU adapter (no Vulkan driver: install the GPU driver, or Mesa >= 25 ' +
          'mesa-vulkan-drivers for the lavapipe software adapter)',
      );
    }
    const summary = summarizeAdapter(adapter);
    if (summary.software && context.auto && !context.allowSoftwareWebgpu) {
      throw unavailable(
        `only a software adapter (${summary.description}), slower than wasm; ` +
          'name webgpu explicitly to use it',
      );
    }
    // tfjs asks for its own device; asking here first turns its silent `false` into a reason.
    try {
      const device = await withTimeout(
        adapter.requestDevice(),
        context.webgpuTimeoutMs,
        'requestDevice',
      );
      device.destroy();
    } catch (error) {
      throw unavailable(
        `Dawn could not create a device on ${summary.description}: ${errorMessage(error)}`,
        error,
      );
    }
    await import('@tensorflow/tfjs-backend-webgpu');
    return { description: `@tensorflow/tfjs-backend-webgpu on Dawn: ${summary.description}` };
  },
};

/**
 * Dawn's Vulkan setup expects XDG_RUNTIME_DIR and complains (on some setups fails) without it;
 * services in containers have no login session to set it. Only set when absent, so a real
 * session's directory is never replaced; it is process-global, hence only for Dawn's sake.
 */
function ensureXdgRuntimeDir(directory: string): void {
  if (process.env.XDG_RUNTIME_DIR !== undefined && process.env.XDG_RUNTIME_DIR !== '') return;
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  process.env.XDG_RUNTIME_DIR = directory;
}

/** Exposes Dawn as `navigator.gpu` and its GPU* constants as globals, as tfjs-backend-webgpu expects. */
function installNavigatorGpu(dawn: typeof Dawn): GPU {
  // The globals Dawn provides (navigator.gpu, GPUBufferUsage, ...) are set by name; globalThis's
  // type lists only the declared ones.
  const scope = globalThis as unknown as Record<string, unknown>;
  const existing = (scope.navigator as { gpu?: GPU } | undefined)?.gpu;
  if (existing !== undefined) return existing;
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create([]);
  if (scope.navigator === undefined) {
    Object.defineProperty(globalThis, 'navigator', {
      value: { gpu },
      configurable: true,
      writable: true,
    });
  } else {
    Object.defineProperty(scope.navigator, 'gpu', {
      value: gpu,
      configurable: true,
      writable: true,
    });
  }
  return gpu;
}

function summarizeAdapter(adapter: GPUAdapter): AdapterSummary {
  const info = adapter.info;
  const description =
    [info.description, info.device, info.vendor].find((text) => text !== '') ?? 'unnamed adapter';
  const fallback = (info as { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  const software =
    fallback ||
    info.architecture === 'software' ||
    SOFTWARE_ADAPTER.test(`${info.description} ${info.device} ${info.vendor}`);
  return { description, software };
}

async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(unavailable(`Dawn did not answer ${what} within ${timeoutMs} ms`));
    }, timeoutMs);
    timer.unref();
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function unavailable(reason: string, cause?: unknown): EngineError {
  return new EngineError('ENGINE_UNAVAILABLE', reason, cause === undefined ? undefined : { cause });
}
