/**
 * The typed, private view of the native addon, and its loader. Public modules wrap this; users never
 * see these shapes directly.
 */
import path from 'path';

export interface NativeProgress {
  done: number;
  total: number;
  lossSum: number;
  correct: number;
}
export type ProgressCallback = (event: NativeProgress) => void;

export interface NativeAttackConfig {
  kind: 'none' | 'fgsm' | 'pgd' | 'cw' | 'tpgd' | 'apgd-ce' | 'apgd-dlr' | 'apgd-t' | 'fab-t' | 'square' | 'autoattack';
  norm?: 'linf' | 'l2';
  eps?: number;
  stepSize?: number;
  steps?: number;
  restarts?: number;
  randomStart?: boolean;
  targeted?: boolean;
  temperature?: number;
  queries?: number;
  squareFraction?: number;
  squareSchedule?: string;
  targetClasses?: number;
  attacks?: string[];
  /** Options the library does not know are passed on, so that the addon refuses them by name. */
  [other: string]: unknown;
}

/** One attack kind in the addon's table: the options it accepts and its defaults. */
export interface NativeAttackKindDefaults {
  options: string[];
  steps?: number;
  /** PGD family: the default stepSize is this * eps / steps (FGSM: this * eps). */
  stepSizeTimesSteps?: number;
  restarts: number;
  randomStart: boolean;
  targetClasses?: number;
  queries?: number;
  squareFraction?: number;
  squareSchedule?: 'rescaled' | 'autoattack';
}

export interface NativeAttackDefaults {
  kinds: Record<string, NativeAttackKindDefaults>;
  standardAutoAttack: {
    attacks: string[];
    steps: number;
    queries: number;
    targetClasses: number;
    squareFraction: number;
    squareSchedule: 'autoattack';
    restarts: number;
  };
  fgsmRs: { randomStart: boolean; stepSizeTimesEps: number };
}

export interface NativeModelSpec {
  /** Path of a TorchScript file; then architecture is 'torchscript' and numClasses is checked against the model. */
  torchscript?: string;
  architecture: string;
  numClasses: number;
  channels: number;
  height: number;
  width: number;
  mean: number[];
  std: number[];
  device: string;
  seed: number;
}

export interface NativeModelInfo {
  architecture: string;
  numClasses: number;
  channels: number;
  height: number;
  width: number;
  device: string;
  parameterCount: number;
}

export interface NativeTrainResult {
  steps: number;
  seen: number;
  correct: number;
  lossSum: number;
  seconds: number;
}

export interface NativeEvaluation {
  cleanConfusion: Int32Array;
  adversarialConfusion: Int32Array;
  cleanLossSum: Float64Array;
  gradientNormSum: Float64Array;
  cleanPredictions: Int32Array;
  adversarialPredictions: Int32Array;
  weightNorms: Float64Array;
  /** Ensemble only: per example, -1 robust, 0 clean-misclassified, k the k-th stage broke it. */
  brokenBy?: Int32Array;
  seconds: number;
}

/** Random crop with zero padding and horizontal flip, applied natively to each uint8 batch. */
export interface NativeAugmentConfig {
  cropPadding: number;
  horizontalFlip: boolean;
}

export interface NativeTensor {
  dtype: 'F32' | 'F64' | 'I64';
  shape: number[];
  data: Uint8Array;
}

export interface NativeModel {
  info(): NativeModelInfo;
  train(
    data: { images: Uint8Array; labels: Int32Array; order: Int32Array; learningRates: Float64Array },
    options: {
      method: string;
      attack?: NativeAttackConfig;
      momentum: number;
      weightDecay: number;
      nesterov: boolean;
      batchSize: number;
      seed: number;
      augment?: NativeAugmentConfig;
      beta?: number;
      classWeights?: Float64Array;
      classEps?: Float64Array;
    },
    onProgress?: ProgressCallback,
  ): Promise<NativeTrainResult>;
  evaluate(
    data: { images: Uint8Array; labels: Int32Array; targets?: Int32Array },
    options: { attack?: NativeAttackConfig; batchSize: number; seed: number; logitBias?: Float64Array },
    onProgress?: ProgressCallback,
  ): Promise<NativeEvaluation>;
  attack(
    data: { images: Float32Array; labels: Int32Array; targets?: Int32Array },
    options: { attack: NativeAttackConfig; batchSize: number; seed: number; logitBias?: Float64Array },
    onProgress?: ProgressCallback,
  ): Promise<{ adversarial: Float32Array; predictions: Int32Array; brokenBy?: Int32Array }>;
  getState(): Promise<Record<string, NativeTensor>>;
  setState(tensors: Record<string, NativeTensor>): Promise<void>;
}

export interface NativeAddon {
  runtimeInfo(): { torchVersion: string; cudaAvailable: boolean; cudaDeviceCount: number; threads: number; cpuCachingAllocator: boolean };
  setThreads(options: { threads: number }): number;
  /** The one table of attack kinds, options and defaults (native/tensor_bridge.cc). */
  attackDefaults(): NativeAttackDefaults;
  NativeModel: new (spec: NativeModelSpec) => NativeModel;
  /** The training augmentation alone (synchronous; for tests and benchmarks). */
  augmentImages(data: { images: Uint8Array; shape: number[] }, options: NativeAugmentConfig & { seed: number }): Uint8Array;
  interleavedToPlanar(source: Uint8Array, target: Uint8Array, options: { offset: number; channels: number }): void;
}

let loaded: NativeAddon | undefined;

/** Loads the addon once: a prebuild from prebuilds/ or the local build/Release. */
export function nativeAddon(): NativeAddon {
  if (!loaded) {
    const root = path.resolve(__dirname, '..');
    try {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      loaded = require('node-gyp-build')(root) as NativeAddon;
    } catch (cause) {
      const error = new Error(
        `classwise-at: the native addon could not be loaded from ${root} (${(cause as Error).message}). ` +
          'Build it with `npm run build` (needs LibTorch: apt-get install libtorch-dev).',
      );
      (error as Error & { code: string }).code = 'ERR_ADDON_MISSING';
      throw error;
    }
  }
  return loaded;
}
