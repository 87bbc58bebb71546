/** A run: its settings and defaults, its folder, its data and its training. */
export { compareConfigs, evalAttack, parseClassList, recipeTrainOptions, runArchitecture, runConfig, trainAttack } from './config';
export type { RunConfig, RunSettings } from './config';
export { loadRunData, loadRunSplit, loadRunTestSet, runTestSubset, runUsesValidation, streamedTrainData, streamRunTestSet } from './data';
export type { RunDataSettings, RunTrainData } from './data';
export { BEST_CHECKPOINT_FILE, CHECKPOINT_FILE, FAWA_CHECKPOINT_FILE, METRICS_FILE, checkOutputFile, checkpointPath, prepareRunFolder, readMetrics, trimMetrics, writableFile } from './folder';
export { LOCK_FILE, lockFolder } from './lock';
export type { FolderLock } from './lock';
export type { CheckpointChoice, EpochMetrics } from './folder';
export { classRows, metricsLine, runTraining } from './train';
export type { RunOptions, RunReporter } from './train';
export { ATTACK_SPEC_HELP, normalizeAttackSpec, parseAttackList, parseAttackSpec } from './attack-spec';
