/** classwise-at: the public library API. */
export { attack, describeAttack, ATTACK_KINDS, ENSEMBLE_STAGES, STANDARD_AUTOATTACK } from './attack';
export type { AttackCallOptions, AttackKind, AttackOptions, AttackResult, EnsembleReport, EnsembleStage } from './attack';
export { evaluate } from './evaluate';
export { orderingWarnings, randomnessWarning } from './attack-checks';
export type { ClassEvaluation, EvaluateOptions } from './evaluate';
export { Model, ARCHITECTURES } from './model';
export type { Architecture, CreateModelOptions, DeviceName, ModelConfig } from './model';
export { train, TRAIN_METHODS, epochSeed } from './train/trainer';
export type { EpochRecord, TrainMethod, TrainOptions } from './train/trainer';
export { runTraining } from './train/run';
export type { RunConfig, RunOptions, RunReporter } from './train/run';
export { learningRatesForEpoch, parseSchedule, describeSchedule } from './train/schedule';
export type { LrSchedule } from './train/schedule';
export { loadDataset, DATASET_NAMES } from './data/index';
export { loadFashionMnist, FASHION_MNIST_CLASSES } from './data/fashion-mnist';
export { loadMnist, loadMnistSample } from './data/mnist';
export { takePerClass, takeFirst } from './data/subset';
export type { ImageDataset } from './data/dataset';
export { formatClassTable, summarizeClasses } from './report/class-table';
export { loadCheckpoint, saveCheckpoint } from './checkpoint';
export { ClasswiseError } from './errors';
export { RECIPES } from './recipes';

import { nativeAddon } from './native';

/** LibTorch version, CUDA availability and the number of CPU threads native work uses. */
export function runtimeInfo() {
  return nativeAddon().runtimeInfo();
}

/** Sets the CPU threads of every later native call (default: all cores). */
export function setThreads(threads: number): number {
  return nativeAddon().setThreads({ threads });
}
