import type { BackendName, EngineName } from './engine-names.js';

/** Options for {@link initEngine}. */
export interface InitEngineOptions {
  /** Which engine to use; `auto` (the default) takes the first of BACKEND_NAMES that loads. */
  backend?: EngineName;
  /**
   * CPU threads for engines that can use several (native). Ignored by engines that
   * cannot (wasm in Node is single-threaded, cpu is pure JS); EngineInfo.threads says what ran.
   */
  threads?: number;
  /**
   * native: run kernels on a background thread, in call order, while tfjs builds the next ops
   * (true, the engine's default), or each inside its call (false: slower, but a failing kernel
   * throws where its op is called). Ignored by other engines.
   */
  kernelQueue?: boolean;
  /**
   * XDG_RUNTIME_DIR for Dawn (webgpu), used only when the process has none. Dawn's Vulkan
   * loader setup expects it and logs errors (and on some setups fails) without it; worker
   * containers usually have no login session to set it. Default: DEFAULT_XDG_RUNTIME_DIR.
   */
  xdgRuntimeDir?: string;
  /**
   * Lets `auto` pick webgpu on a software adapter (lavapipe/llvmpipe, SwiftShader). Off by
   * default because those are slower than wasm for training; naming webgpu explicitly always
   * accepts them.
   */
  allowSoftwareWebgpu?: boolean;
  /** Milliseconds to wait for Dawn to answer requestAdapter/requestDevice. Default 30 s. */
  webgpuTimeoutMs?: number;
}

/** An engine `auto` did not take, and why. */
export interface SkippedEngine {
  backend: BackendName;
  reason: string;
}

/** What initEngine set up. */
export interface EngineInfo {
  /** The engine now active (also the tfjs backend name: `tf.getBackend()`). */
  backend: BackendName;
  /** What was asked for. */
  requested: EngineName;
  /** One line about the engine: package, adapter or library, binary flavour. */
  description: string;
  /** Candidates tried before `backend` (auto only), with the reason each was passed over. */
  skipped: SkippedEngine[];
  /** Threads the engine computes with, when known. */
  threads?: number;
}

/** What a loader needs to know. Built by initEngine from InitEngineOptions and defaults. */
export interface EngineLoadContext {
  /** True when trying candidates for `auto` (loaders may refuse slow setups then). */
  auto: boolean;
  threads: number | undefined;
  kernelQueue: boolean | undefined;
  xdgRuntimeDir: string;
  allowSoftwareWebgpu: boolean;
  webgpuTimeoutMs: number;
}

/** What a loader reports once its tfjs backend is registered (not yet selected). */
export interface LoadedEngine {
  description: string;
  threads?: number;
}

/**
 * One row of the engine table: loads the packages for one tfjs backend and registers it.
 * Throws EngineError('ENGINE_UNAVAILABLE') with a reason people can act on when it cannot.
 */
export interface EngineLoader {
  readonly name: BackendName;
  load(context: EngineLoadContext): Promise<LoadedEngine>;
  /** Runs after `tf.setBackend(name)` succeeded, to report facts only known then. */
  afterSelect?(loaded: LoadedEngine): Promise<LoadedEngine>;
}
