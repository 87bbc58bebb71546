/**
 * The typed, private view of the native addon, and its loader. Public modules wrap this; users never
 * see these shapes directly.
 */
import path from 'path';

import { ClasswiseError } from './errors';

export interface NativeProgress {
  done: number;
  total: number;
  lossSum: number;
  correct: number;
}
export type ProgressCallback = (event: NativeProgress) => void;

export interface NativeAttackConfig {
  kind: 'none' | 'fgsm' | 'pgd' | 'cw' | 'tpgd' | 'apgd-ce' | 'apgd-dlr' | 'apgd-t' | 'square' | 'autoattack';
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
  targetClasses?: number;
  attacks?: string[];
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

/** uint8 images and labels held by the addon (see data/native-dataset.ts). */
export interface NativeDatasetHandle {
  readonly count: number;
  /** Bytes held natively (images and int64 labels). */
  readonly bytes: number;
}

/** Images and labels of a call: a handle read in place, or typed arrays copied by the call. */
export type NativeImages = { dataset: NativeDatasetHandle } | { images: Uint8Array; labels: Int32Array };

export interface NativeModel {
  info(): NativeModelInfo;
  train(
    data: NativeImages & { order: Int32Array; learningRates: Float64Array },
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
      /** 1-based, named in the error when the loss turns non-finite. */
      epoch?: number;
    },
    onProgress?: ProgressCallback,
  ): Promise<NativeTrainResult>;
  evaluate(
    data: NativeImages & { targets?: Int32Array },
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
  /** Native errors are constructed from this class from then on (new C(code, message)). */
  setErrorClass(errorClass: typeof ClasswiseError): void;
  NativeModel: new (spec: NativeModelSpec) => NativeModel;
  NativeDataset: new (data: { images: Uint8Array; labels: Int32Array; channels: number; height: number; width: number; classes: number }) => NativeDatasetHandle;
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
      // A ClasswiseError, so the CLI prints it as one line (the message itself is the lead's to word).
      throw new ClasswiseError(
        'ERR_ADDON_MISSING',
        `classwise-at: the native addon could not be loaded from ${root} (${(cause as Error).message}). ` +
          'Build it with `npm run build` (needs LibTorch: apt-get install libtorch-dev).',
      );
    }
    // Every native failure is a ClasswiseError from here on.
    loaded.setErrorClass(ClasswiseError);
  }
  return loaded;
}
