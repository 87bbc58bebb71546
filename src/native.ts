/**
 * The typed, private view of the native addon, and its loader. Public modules wrap this; users never
 * see these shapes directly.
 */
import fs from 'fs';
import path from 'path';

import { ClasswiseError } from './errors';
import type { FastPathOptions, FastPathUsed } from './fast-path';

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

export interface NativeTrainResult extends FastPathUsed {
  steps: number;
  seen: number;
  correct: number;
  lossSum: number;
  seconds: number;
  /** With options.classStatistics, by true class: count, correct, softmax sum [K*K, row = true class], margin sum. */
  classStatistics?: { count: Float64Array; correct: Float64Array; probabilitySum: Float64Array; marginSum: Float64Array };
}

export interface NativeEvaluation extends FastPathUsed {
  cleanConfusion: Int32Array;
  adversarialConfusion: Int32Array;
  cleanLossSum: Float64Array;
  gradientNormSum: Float64Array;
  cleanPredictions: Int32Array;
  adversarialPredictions: Int32Array;
  weightNorms: Float64Array;
  /** Ensemble only: per example, -1 robust, 0 clean-misclassified, k the k-th stage broke it. */
  brokenBy?: Int32Array;
  /** With options.tradesAttack: per true class, the sum of KL(p(x) || p(x')) over TRADES' adversarial examples. */
  tradesKlSum?: Float64Array;
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

/** A rank's membership of a c10d process group (native/distributed_wrap.cc). */
export interface NativeProcessGroupHandle {
  readonly rank: number;
  readonly worldSize: number;
  connect(): Promise<void>;
  barrier(what: string): Promise<void>;
  allReduceSum(values: Float64Array, what: string): Promise<Float64Array>;
}

/** Images and labels of a call: a handle read in place, or typed arrays copied by the call. */
export type NativeImages = { dataset: NativeDatasetHandle } | { images: Uint8Array; labels: Int32Array };

export interface NativeModel {
  info(): NativeModelInfo;
  train(
    data: NativeImages & { order: Int32Array; learningRates: Float64Array },
    options: FastPathOptions & {
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
      /** TRADES only: per-class weights of the natural and the KL term (robust fairness). */
      naturalWeights?: Float64Array;
      robustWeights?: Float64Array;
      /** FAAL: every batch, class weights from the adversarial margins within this KL radius. */
      faalRadius?: number;
      /** Per-class statistics of the examples trained on, returned as result.classStatistics. */
      classStatistics?: boolean;
      /** 1-based, named in the error when the loss turns non-finite. */
      epoch?: number;
      /** Data parallelism: order is this rank's shard, batchSize its share of the global batch. */
      processGroup?: NativeProcessGroupHandle;
    },
    onProgress?: ProgressCallback,
  ): Promise<NativeTrainResult>;
  evaluate(
    data: NativeImages & { targets?: Int32Array },
    options: FastPathOptions & { attack?: NativeAttackConfig; tradesAttack?: NativeAttackConfig; batchSize: number; seed: number; logitBias?: Float64Array; processGroup?: NativeProcessGroupHandle },
    onProgress?: ProgressCallback,
  ): Promise<NativeEvaluation>;
  attack(
    data: { images: Float32Array | Uint8Array; labels: Int32Array; targets?: Int32Array },
    options: FastPathOptions & { attack: NativeAttackConfig; batchSize: number; seed: number; logitBias?: Float64Array },
    onProgress?: ProgressCallback,
  ): Promise<FastPathUsed & { adversarial: Float32Array; predictions: Int32Array; brokenBy?: Int32Array }>;
  getState(): Promise<Record<string, NativeTensor>>;
  setState(tensors: Record<string, NativeTensor>): Promise<void>;
  /** Rank 0's parameters, momentum and buffers into this rank's model (buffers only with parameters: false). */
  synchronize(options: { processGroup: NativeProcessGroupHandle; parameters: boolean }): Promise<void>;
}

export interface NativeRuntimeInfo {
  torchVersion: string;
  cudaAvailable: boolean;
  cudaDeviceCount: number;
  threads: number;
  cpuCachingAllocator: boolean;
  /** bf16 attacks on the CPU pack convolution weights for oneDNN once per attack (LibTorch 2.x, native bf16; native/packed_conv.h). */
  packedConvWeights: boolean;
  /** Compiled against LibTorch's CUDA libraries (torch_cuda); true even where no GPU is present. */
  builtWithCuda: boolean;
  /** The C++ standard the addon was compiled with: 2017 or 2020. */
  cxxStandard: number;
  torchFoundVia: string;
  torchLibDir: string;
  /** The Python whose torch is this LibTorch ('' if none): the PyTorch reference tests and the bench run it. */
  torchPython: string;
  /** The kernel level LibTorch dispatches to on this CPU: DEFAULT, AVX2, AVX512... */
  cpuCapability: string;
  cpuFeatures: { avx2?: boolean; avx512?: boolean; avx512Bf16?: boolean; amxBf16?: boolean; detectedBy?: string };
  /** What precision / memoryFormat 'auto' picks on each device kind, and why (cuda only where a GPU is visible). */
  autoFastPath: { cpu: FastPathUsed & { reason: string }; cuda?: FastPathUsed & { reason: string } };
}

export interface NativeAddon {
  runtimeInfo(): NativeRuntimeInfo;
  setThreads(options: { threads: number }): number;
  /** Packing of convolution weights in bf16 attacks on the CPU, for calls that start afterwards (tests, benchmarks). */
  setPackedConvolutions(enabled: boolean): void;
  /** Native errors are constructed from this class from then on (new C(code, message)). */
  setErrorClass(errorClass: typeof ClasswiseError): void;
  /** The one table of attack kinds, options and defaults (native/tensor_bridge.cc). */
  attackDefaults(): NativeAttackDefaults;
  NativeModel: new (spec: NativeModelSpec) => NativeModel;
  NativeProcessGroup: new (options: {
    rank: number; worldSize: number; masterAddr: string; masterPort: number;
    useAgentStore: boolean; restartCount: number; backend: string; timeoutSeconds: number;
  }) => NativeProcessGroupHandle;
  /** The process-group backends this build has: gloo, and nccl in the CUDA build. */
  distributedBackends(): string[];
  /** Ends the process with this code at once, without joining native threads (a rank whose peer died or hung). */
  exitNow(code: number): never;
  /** SIGKILL to this process when its parent dies (Linux); false where unsupported. Exits if the parent is not pid. */
  exitWithParent(pid: number): boolean;
  NativeDataset: new (data: { images: Uint8Array; labels: Int32Array; channels: number; height: number; width: number; classes: number }) => NativeDatasetHandle;
  /** The training augmentation alone (synchronous; for tests and benchmarks). */
  augmentImages(data: { images: Uint8Array; shape: number[] }, options: NativeAugmentConfig & { seed: number }): Uint8Array;
  interleavedToPlanar(source: Uint8Array, target: Uint8Array, options: { offset: number; channels: number }): void;
  /** FAAL: class weights K * p, p = argmax over the simplex of sum p_c margins_c with KL(uniform || p) <= radius. */
  faalClassWeights(margins: Float64Array, radius: number): Float64Array;
  /** Image files to CHW planes of out (image k at k*3*size*size) on native threads; status 1: decode with sharp. */
  decodeImageBatch(
    files: string[],
    out: Uint8Array,
    /** decodeWholeImage (tests only): decode every pixel, the reference for the decode of the crop's region alone. */
    options: { size: number; augment: boolean; seed: number; indices: Int32Array; threads: number; decodeWholeImage?: boolean },
  ): Promise<{ status: Int32Array; reasons: string[] }>;
  /** Entries of a packed dataset (memory-mapped), as decodeImageBatch; raw[k] = 1: widths[k] x heights[k] RGB bytes. */
  decodePackedBatch(
    pack: string,
    out: Uint8Array,
    options: {
      size: number; augment: boolean; seed: number; indices: Int32Array; threads: number;
      offsets: Float64Array; lengths: Int32Array; widths: Int32Array; heights: Int32Array; raw: Uint8Array;
    },
  ): Promise<{ status: Int32Array; reasons: string[] }>;
  jpegDecoderInfo(): { turbojpeg: boolean };
}

let loaded: NativeAddon | undefined;

/** Where the addon looks for LibTorch besides its build-time folder: the package's `libtorch` link (setup makes it). */
const LIBTORCH_LINK = 'libtorch';

/**
 * Loads the addon once: CLASSWISE_ADDON (an explicit .node file, e.g. the CUDA build check's), else the local
 * build/Release, else a prebuild from prebuilds/. A failure names what was looked for and how to fix it.
 */
export function nativeAddon(): NativeAddon {
  if (!loaded) {
    const root = path.resolve(__dirname, '..');
    let file = process.env.CLASSWISE_ADDON;
    try {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      file ??= require('node-gyp-build').resolve(root) as string;
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      loaded = require(file) as NativeAddon;
    } catch (cause) {
      throw addonLoadError(root, file, cause as Error);
    }
    // Every native failure is a ClasswiseError from here on.
    loaded.setErrorClass(ClasswiseError);
  }
  return loaded;
}

function addonLoadError(root: string, file: string | undefined, cause: Error): Error {
  const reason = cause.message.split('\n')[0];
  const fix = fs.existsSync(path.join(root, '.git'))
    ? '`npm run setup` in ' + root + ' (creates .venv with torch==2.13.0 and builds the addon against it)'
    : '`npm rebuild classwise-at` (finds LibTorch from LIBTORCH or CLASSWISE_PYTHON, or installs torch==2.13.0 ' +
      'into the package\'s .venv, and builds the addon when no prebuild matches)';
  let message: string;
  if (!file) {
    message = `no native addon was found in ${root}/build/Release or ${root}/prebuilds. Fix: ${fix}.`;
  } else if (/lib(torch|c10)[\w.-]*\.so[\w.]*: cannot open shared object file/.test(reason)) {
    const link = path.join(root, LIBTORCH_LINK);
    const target = fs.existsSync(link) ? ` -> ${fs.realpathSync(link)}` : ' (missing)';
    message =
      `the native addon ${file} needs LibTorch and could not load it (${reason}). Looked in the folder it was ` +
      `built against and in ${link}${target}. Fix: ${fix}.`;
  } else if (/undefined symbol/.test(reason)) {
    message =
      `the native addon ${file} was built against another LibTorch than the one found at load time (${reason}). ` +
      `Fix: ${fix}.`;
  } else {
    message = `the native addon ${file} could not be loaded (${reason}). Fix: ${fix}.`;
  }
  // A ClasswiseError, so the CLI prints it as one line.
  return new ClasswiseError('ERR_ADDON_MISSING', `classwise-at: ${message}`);
}
