/** classwise-at: the public library API. */
export { attack, attackDefaults, describeAttack, ATTACK_KINDS, ENSEMBLE_STAGES, STANDARD_AUTOATTACK } from './attack';
export type { AttackCallOptions, AttackData, AttackKind, AttackOptions, AttackResult, EnsembleReport, EnsembleStage } from './attack';
export { evaluate, evaluateStream } from './evaluate';
export { checkDatasetMatch } from './dataset-match';
export { collapsedClasses, collapsedClassWarnings } from './collapsed-classes';
export type { CollapsedClass } from './collapsed-classes';
export type { DataDescription } from './dataset-match';
export { autoFastPath, describeFastPath, MEMORY_FORMATS, PRECISIONS } from './fast-path';
export type { FastPathOptions, FastPathUsed, MemoryFormat, Precision } from './fast-path';
export { orderingWarnings, randomnessWarning } from './attack-checks';
export type { ClassEvaluation, EvaluateOptions, EvaluationChunk } from './evaluate';
export { Model, ARCHITECTURES } from './model';
export type { Architecture, CreateModelOptions, DeviceName, ModelConfig } from './model';
export { train, TRAIN_METHODS, epochSeed } from './train/trainer';
export type { EpochRecord, StreamedTrainData, TrainMethod, TrainOptions } from './train/trainer';
export {
  FAIRNESS_KINDS, FAIRNESS_BASE_METHODS, resolveFairness, normalizeMultipliers, frlErrors, frlMultipliers, frlWeights, rmMultipliers, rmEpsScale,
  cfaClassEps, cfaClassBeta, cfaTradesWeights, fawaGate, fawaAverage, watWeights, watRoundWeights, watClassLoss, watLossEntry, dafaWeights, selectionScore,
} from './train/fairness';
export type { FairnessKind, FairnessOptions, FairnessState, SelectRule, SelectSplit } from './train/fairness';
export { runConfig, runTraining, streamedTrainData, loadRunData, loadRunTestSet, streamRunTestSet, parseAttackSpec, parseAttackList, readMetrics, checkpointPath, BEST_CHECKPOINT_FILE, CHECKPOINT_FILE, METRICS_FILE } from './run';
export type { RunConfig, RunSettings, RunOptions, RunReporter, CheckpointChoice, EpochMetrics } from './run';
export { loadIntoNative } from './data/native-dataset';
export type { NativeImageSet } from './data/native-dataset';
export { learningRatesForEpoch, parseSchedule, describeSchedule } from './train/schedule';
export type { LrSchedule } from './train/schedule';
export { loadDataset, loadFolderDataset, DATASET_NAMES, DatasetError } from './data/index';
export type { DatasetName, LoadDatasetOptions } from './data/index';
export { loadFashionMnist, FASHION_MNIST_CLASSES } from './data/fashion-mnist';
export { loadMnist, loadMnistSample } from './data/mnist';
export { loadCifar10, loadCifar100 } from './data/cifar';
export type { Cifar100Labels } from './data/cifar';
export { loadSvhn, SVHN_CLASSES } from './data/svhn';
export { loadStl10, loadStl10Unlabeled } from './data/stl10';
export { decodeBatch, decodeToMemory, loadImageFolder } from './data/imagenet';
export type { DecodedBatch, DecodeErrorPolicy, DecodeOptions, ImageFolderDataset } from './data/imagenet';
export { prefetch } from './data/prefetch';
export { loadPackDataset, openPack, pageLocalOrder } from './data/pack';
export type { PackHeader, PackIndex } from './data/pack';
export { writePack } from './data/pack-writer';
export type { PackOptions, PackResult } from './data/pack-writer';
export { holdOutPerClass, restrictToClasses, selectExamples, takePerClass, takeFirst } from './data/subset';
export type { ImageDataset } from './data/dataset';
export { formatClassTable, summarizeClasses } from './report/class-table';
export { loadCheckpoint, saveCheckpoint, removeLeftoverTempFiles } from './checkpoint';
export { ClasswiseError, CheckpointError } from './errors';
export { ProcessGroup, processGroupFromEnvironment, BACKENDS, DEFAULT_TIMEOUT_SECONDS } from './distributed/group';
export type { Backend, ProcessGroupOptions } from './distributed/group';
export { rankEnvironment } from './distributed/environment';
export type { RankEnvironment } from './distributed/environment';
export { launch } from './distributed/launch';
export type { LaunchOptions, LaunchResult } from './distributed/launch';
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
export * as study from './study/index';
export { writeReport, formatFindings } from './report/study-report';
export type { StudyReport, ReportSection } from './report/study-report';
