/**
 * A run's settings: what shapes the result (stored in every checkpoint and compared on resume), the defaults a
 * run takes from its dataset's recipe, and the attacks and training options those settings describe.
 */
import { AttackOptions } from '../attack';
import { DATASET_NAMES, DatasetName, isDatasetName } from '../data/index';
import { DecodeErrorPolicy } from '../data/imagenet';
import { ClasswiseError, invalidArgument } from '../errors';
import { Architecture } from '../model';
import { NativeAugmentConfig } from '../native';
import { DEFAULT_SCHEDULE, RECIPES } from '../recipes';
import { parseSchedule } from '../train/schedule';
import { FairnessOptions, recordedFairness, SELECT_RULES, SELECT_SPLITS, SelectRule, SelectSplit } from '../train/fairness';
import { TrainMethod, TrainOptions } from '../train/trainer';

/** Every setting that shapes the result; stored in the checkpoint and compared on resume. */
export interface RunConfig {
  dataset: DatasetName;
  dataDir?: string;
  /** ImageNet: packed datasets read instead of the folders (classwise-at pack), each for the split its header names. */
  dataPacks?: string[];
  /** Default: the dataset's recipe (RECIPES). */
  architecture?: Architecture;
  /** Training augmentation; default: the recipe's (crop + flip for CIFAR, crop for SVHN, none for MNIST). */
  augment?: NativeAugmentConfig;
  /** CIFAR-100: fine (100) or coarse (20) classes. */
  cifar100Labels?: 'fine' | 'coarse';
  /** Keep only these classes (index or name), labels remapped in the order given. */
  classes?: (string | number)[] | null;
  /** Streamed datasets (ImageNet): side of the decoded images, a file that fails to decode, batches per native call. */
  imageSize?: number;
  onDecodeError?: DecodeErrorPolicy;
  chunkBatches?: number;
  method: TrainMethod;
  epochs: number;
  batchSize: number;
  learningRate: number;
  schedule: string;
  momentum: number;
  weightDecay: number;
  nesterov: boolean;
  seed: number;
  eps: number;
  trainSteps: number;
  trainStepSize: number;
  evalSteps: number;
  evalStepSize: number;
  evalRestarts: number;
  /** null: every example. */
  trainPerClass: number | null;
  evalPerClass: number | null;
  /** TRADES / MART regularisation weight. */
  beta?: number;
  /** Class-wise mitigation, "class=value,..." by name or index (see train/mitigation.ts); others weight 1 / the run's eps. */
  classWeights?: string;
  classEps?: string;
  /** 'auto': class weights from a held-out split of the training set, re-measured every epoch. */
  mitigation?: 'auto';
  /** Size of that held-out split per class (taken out of the training data). */
  mitigationPerClass?: number;
  /** Robust-fairness method on top of `method` (train/fairness.ts), every option it uses recorded. */
  fairness?: FairnessOptions;
  /** Which split chooses best.safetensors, and by which score; absent: 'test' and 'robust' (runs before selection). */
  selectOn?: SelectSplit;
  selectRule?: SelectRule;
  /** Images per class of the validation split carved from the training data (absent: the method's default). */
  validationPerClass?: number;
  /** The run's first weights: a run folder (its best checkpoint, else its last) or a .safetensors file. */
  initFrom?: string;
}

/** What a user may leave out of a run's settings; `runConfig` fills it from the dataset's recipe. */
export type RunSettings = Partial<RunConfig> & { dataset?: DatasetName };

/**
 * A complete RunConfig from the settings given: every value left out comes from the dataset's recipe and its quick
 * budget (printed by the run). The CLI and the library share this one table.
 */
export function runConfig(settings: RunSettings): RunConfig {
  if (!settings || typeof settings !== 'object') throw invalidArgument('run settings must be an object such as { dataset: "fashion-mnist" }');
  const dataset = settings.dataset ?? 'fashion-mnist';
  if (!isDatasetName(dataset)) throw new ClasswiseError('ERR_DATASET_UNKNOWN', `dataset is "${dataset}"; accepted: ${DATASET_NAMES.join(', ')}`);
  const recipe = RECIPES[dataset];
  const quick = recipe.quick;
  const method = settings.method ?? recipe.method;
  const eps = settings.eps ?? recipe.eps;
  const trainSteps = method === 'fgsm-rs' ? 1 : settings.trainSteps ?? quick.trainSteps;
  // FGSM-RS: Wong et al.'s 1.25 eps. The quick step goes with the quick steps; steps given by the user take 2.5 eps
  // spread over them.
  const quickStep = settings.trainSteps === undefined ? quick.trainStepTimesEps : undefined;
  const stepTimesEps = method === 'fgsm-rs' ? 1.25 : quickStep ?? 2.5 / trainSteps;
  const evalSteps = settings.evalSteps ?? recipe.evalSteps;
  const trainPerClass = settings.trainPerClass !== undefined ? settings.trainPerClass : quick.trainPerClass;
  const evalPerClass = settings.evalPerClass !== undefined ? settings.evalPerClass
    : quick.evalPerClass ?? Math.max(10, Math.round((trainPerClass ?? 50) / 5));
  const config: RunConfig = {
    dataset,
    dataDir: settings.dataDir,
    ...(dataset === 'imagenet' && settings.dataPacks && settings.dataPacks.length > 0 ? { dataPacks: settings.dataPacks } : {}),
    ...(settings.architecture ? { architecture: settings.architecture } : {}),
    ...(settings.augment ? { augment: settings.augment } : {}),
    ...(dataset === 'cifar100' ? { cifar100Labels: settings.cifar100Labels ?? 'fine' } : {}),
    ...(settings.classes && settings.classes.length > 0 ? { classes: settings.classes } : {}),
    ...(dataset === 'imagenet'
      ? { imageSize: settings.imageSize ?? recipe.imageSize, onDecodeError: settings.onDecodeError ?? 'fail', chunkBatches: settings.chunkBatches ?? 8 }
      : {}),
    method,
    epochs: settings.epochs ?? quick.epochs,
    batchSize: settings.batchSize ?? quick.batchSize ?? recipe.batchSize,
    learningRate: settings.learningRate ?? quick.learningRate ?? recipe.learningRate,
    schedule: settings.schedule ?? DEFAULT_SCHEDULE,
    momentum: settings.momentum ?? 0.9,
    weightDecay: settings.weightDecay ?? recipe.weightDecay,
    nesterov: settings.nesterov ?? false,
    seed: settings.seed ?? 0,
    eps,
    trainSteps,
    trainStepSize: settings.trainStepSize ?? stepTimesEps * eps,
    evalSteps,
    evalStepSize: settings.evalStepSize ?? (2.5 * eps) / evalSteps,
    evalRestarts: settings.evalRestarts ?? 1,
    trainPerClass,
    evalPerClass,
  };
  if (settings.beta !== undefined || method === 'trades' || method === 'mart') config.beta = settings.beta ?? 6;
  if (settings.classWeights) config.classWeights = settings.classWeights;
  if (settings.classEps) config.classEps = settings.classEps;
  if (settings.mitigation) {
    config.mitigation = settings.mitigation;
    config.mitigationPerClass = settings.mitigationPerClass ?? 100;
  }
  if (settings.fairness) config.fairness = recordedFairness(settings.fairness, method);
  if (settings.selectOn !== undefined && !(SELECT_SPLITS as readonly string[]).includes(settings.selectOn)) {
    throw new ClasswiseError('ERR_INVALID_ARGUMENT', `--select-on is "${settings.selectOn}"; accepted: ${SELECT_SPLITS.join(', ')}`);
  }
  if (settings.selectRule !== undefined && !(SELECT_RULES as readonly string[]).includes(settings.selectRule)) {
    throw new ClasswiseError('ERR_INVALID_ARGUMENT', `--select-rule is "${settings.selectRule}"; accepted: ${SELECT_RULES.join(', ')}`);
  }
  // Fairness runs choose their checkpoint on validation; others keep the test subset unless asked.
  const selectOn = settings.selectOn ?? (config.fairness ? 'validation' : undefined);
  if (selectOn) config.selectOn = selectOn;
  if (settings.selectRule || selectOn) config.selectRule = settings.selectRule ?? 'robust';
  if (settings.validationPerClass !== undefined) {
    if (!Number.isInteger(settings.validationPerClass) || settings.validationPerClass < 1) {
      throw new ClasswiseError('ERR_OUT_OF_RANGE', `--validation-per-class is ${settings.validationPerClass}; expected an integer >= 1`);
    }
    if (!config.fairness && selectOn !== 'validation') {
      throw new ClasswiseError('ERR_INVALID_ARGUMENT', '--validation-per-class sizes the validation split, which only --fairness or --select-on validation uses; add one or leave it out');
    }
    config.validationPerClass = settings.validationPerClass;
  }
  if (settings.initFrom) config.initFrom = settings.initFrom;
  // A bad schedule is refused before any data is read.
  parseSchedule(config.schedule, config.learningRate, config.epochs);
  return config;
}

/** "cat,dog,3" -> ['cat', 'dog', 3]: digits are class indices, anything else a class name. */
export function parseClassList(text: string): (string | number)[] {
  return text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}

export function trainAttack(config: RunConfig): AttackOptions {
  if (config.method === 'fgsm-rs') {
    return { kind: 'fgsm', eps: config.eps, randomStart: true, stepSize: config.trainStepSize };
  }
  return { kind: 'pgd', eps: config.eps, steps: config.trainSteps, stepSize: config.trainStepSize, randomStart: true };
}

export function evalAttack(config: RunConfig): AttackOptions {
  return { kind: 'pgd', eps: config.eps, steps: config.evalSteps, stepSize: config.evalStepSize, restarts: config.evalRestarts };
}

/** The training recipe a run's settings describe: the same wherever a run is trained or retrained. */
export function recipeTrainOptions(
  config: RunConfig,
  streamed: boolean,
): Pick<TrainOptions, 'method' | 'epochs' | 'schedule' | 'attack' | 'batchSize' | 'momentum' | 'weightDecay' | 'nesterov' | 'seed' | 'beta' | 'augment' | 'chunkBatches'> {
  return {
    method: config.method,
    epochs: config.epochs,
    schedule: parseSchedule(config.schedule, config.learningRate, config.epochs),
    attack: trainAttack(config),
    batchSize: config.batchSize,
    momentum: config.momentum,
    weightDecay: config.weightDecay,
    nesterov: config.nesterov,
    seed: config.seed,
    beta: config.beta,
    // Streamed images are augmented by the decoder instead.
    augment: streamed ? undefined : config.augment ?? RECIPES[config.dataset].augment,
    chunkBatches: config.chunkBatches,
  };
}

/** The architecture a run trains: its own setting, else the dataset's recipe. */
export function runArchitecture(config: RunConfig): Architecture {
  return config.architecture ?? RECIPES[config.dataset].architecture;
}

/** Refuses to resume a run with other settings than it was started with. */
export function compareConfigs(saved: RunConfig, requested: RunConfig, out: string): void {
  for (const key of Object.keys(requested) as (keyof RunConfig)[]) {
    // Where the data lies, not what it is: a moved folder or a pack of it resumes the same run.
    if (key === 'dataDir' || key === 'dataPacks') continue;
    // Settings added later are absent from older runs, which used their defaults.
    if (saved[key] === undefined && requested[key] === undefined) continue;
    if (JSON.stringify(saved[key]) !== JSON.stringify(requested[key])) {
      throw new ClasswiseError(
        'ERR_RUN_MISMATCH',
        `--resume: the run in ${out} was started with ${key} = ${JSON.stringify(saved[key])}, this command asks for ` +
          `${JSON.stringify(requested[key])}; repeat the original options or choose another --out`,
      );
    }
  }
}
