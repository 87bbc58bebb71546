/**
 * The attack API: batched, native, gradients with respect to the input only. Every adversarial image is in
 * [0,1] and within eps of its original (up to float rounding, 1e-6).
 */
import { checkDatasetMatch, DataDescription } from './dataset-match';
import { invalidArgument } from './errors';
import { FastPathOptions, FastPathUsed, nativeFastPath } from './fast-path';
import { Model } from './model';
import { nativeAddon, NativeAttackConfig, NativeAttackDefaults, ProgressCallback } from './native';

/** Every attack kind. All run natively and batched, for any number of classes. */
export const ATTACK_KINDS = ['fgsm', 'pgd', 'cw', 'tpgd', 'apgd-ce', 'apgd-dlr', 'apgd-t', 'fab-t', 'square', 'autoattack'] as const;
export type AttackKind = (typeof ATTACK_KINDS)[number];

/** Stages of the AutoAttack cascade, in order: the standard AutoAttack runs all four. */
export const ENSEMBLE_STAGES = ['apgd-ce', 'apgd-t', 'fab-t', 'square'] as const;
export type EnsembleStage = (typeof ENSEMBLE_STAGES)[number];
/** The standard AutoAttack cascade, for comparison with what ran. */
export const STANDARD_AUTOATTACK = ENSEMBLE_STAGES;

let defaultsTable: NativeAttackDefaults | undefined;
/**
 * The addon's one table of attack kinds: the options each accepts, its defaults, the standard AutoAttack's
 * settings and FGSM-RS's. Everything that states a default (labels, the trainer) reads it from here.
 */
export function attackDefaults(): NativeAttackDefaults {
  defaultsTable ??= nativeAddon().attackDefaults();
  return defaultsTable;
}

export interface AttackOptions {
  /**
   * - 'fgsm': one signed-gradient step of size eps (FGSM-RS: randomStart true, stepSize 1.25*eps).
   * - 'pgd': PGD on the cross-entropy.
   * - 'cw': CW-Linf, PGD on the Carlini-Wagner margin (largest other logit minus the true class's logit).
   * - 'tpgd': Temperature-PGD, PGD on the cross-entropy of logits / temperature (T = 1 is PGD bit for bit).
   * - 'apgd-ce' / 'apgd-dlr': APGD (Croce & Hein 2020) on CE / DLR, 100 steps by default.
   * - 'apgd-t': targeted APGD-DLR on each of the top `targetClasses` (9) other classes in turn.
   * - 'fab-t': FAB-T (Linf), the minimal-perturbation boundary attack towards each of the top `targetClasses`
   *   (9) other classes in turn, 100 steps; a point is broken when a misclassified point lies within eps.
   * - 'square': Square attack (Linf), `queries` (5000) iterations per example and restart, no gradients.
   * - 'autoattack': APGD-CE -> APGD-T -> FAB-T -> Square, each on the points still robust: the standard
   *   AutoAttack with the default options (its result says whether it was).
   */
  kind: AttackKind;
  /** Threat model; default 'linf'. */
  norm?: 'linf' | 'l2';
  /** Budget in pixel units (images are in [0,1]). */
  eps: number;
  /** Iterations; default 10 for pgd/cw/tpgd, 100 for APGD (and the APGD stages of autoattack). */
  steps?: number;
  /** PGD family only. Default: 2.5 * eps / steps, eps for FGSM. APGD starts at 2*eps and halves it itself. */
  stepSize?: number;
  /** Restarts on the points still robust (random starts; FAB-T's first is the image). Default 1 (must be 1 for autoattack). */
  restarts?: number;
  /** PGD family only: uniform start inside the ball; default true, false for FGSM. */
  randomStart?: boolean;
  /** 'tpgd' only (required): logits are divided by it; 1 is plain PGD. */
  temperature?: number;
  /** 'square' and 'autoattack': iterations per example (and restart) after the start; default 5000. */
  queries?: number;
  /** 'square' and 'autoattack': initial share of pixels in the random window; default 0.8. */
  squareFraction?: number;
  /**
   * 'square' and 'autoattack': how the window shrinks. 'rescaled' (square's default, the paper's and
   * torchattacks'): the schedule written for 10,000 queries stretched to `queries`; 'autoattack'
   * (autoattack's default, as the standard AutoAttack runs Square): halvings after 10, 50, 200, 500, 1000,
   * 2000, 4000 (6000, 8000) queries whatever the budget.
   */
  squareSchedule?: 'rescaled' | 'autoattack';
  /** 'apgd-t', 'fab-t' and 'autoattack': how many of the top other classes are targeted; default 9 (all others if fewer). */
  targetClasses?: number;
  /** 'autoattack' only: the stages to run; default all of ENSEMBLE_STAGES. */
  attacks?: EnsembleStage[];
}

export interface AttackCallOptions extends AttackOptions, FastPathOptions {
  /** Targeted attack: drive each example towards targets[i]. */
  targets?: Int32Array;
  /** Examples per native batch (the split that bounds memory); default 256. */
  batchSize?: number;
  /** Class-wise mitigation at inference: a bias per class added to the logits of the attacked model. */
  logitBias?: number[];
  seed?: number;
  onProgress?: ProgressCallback;
  /** Attack data of another dataset, class names or input shape than the model was trained on (refused by default). */
  allowDatasetMismatch?: boolean;
}

/** `precision` and `memoryFormat` say what the attack ran with ('auto' resolved). */
export interface AttackResult extends FastPathUsed {
  adversarial: Float32Array;
  /** Model's class for each adversarial image. */
  predictions: Int32Array;
  /** 1 where the attack succeeded: misclassified (untargeted) or classified as the target (targeted). */
  success: Uint8Array;
  successRate: number;
  /** 'autoattack' only: what ran and how each example fell. */
  ensemble?: EnsembleReport;
}

/** A dataset as attack takes it: 8-bit images (e.g. an ImageDataset) or floats in [0,1], NCHW, with labels. */
export interface AttackData extends DataDescription {
  images: Uint8Array | Float32Array;
  labels: Int32Array;
}

export interface EnsembleReport {
  /** Stages that ran, in cascade order, e.g. ['apgd-ce', 'apgd-t', 'fab-t', 'square']. */
  attacksRun: EnsembleStage[];
  /** Stages of the standard AutoAttack cascade that did not run. */
  attacksMissing: string[];
  /** Settings that differ from the standard AutoAttack's, each with the standard value, e.g. 'steps 20 (standard: 100)'. */
  nonStandard: string[];
  /** True only when all four stages ran with the standard settings, so a weaker evaluation is never mistaken for it. */
  standard: boolean;
  /** Per example: 'clean' (misclassified without attack), the stage that broke it, or null (robust). */
  brokenBy: (EnsembleStage | 'clean' | null)[];
}

/**
 * Which stages of the cascade run for these options, which settings depart from the standard AutoAttack, and
 * whether it is the standard one. With `numClasses`, fewer target classes than 9 count as standard when they
 * are all the other classes (as the standard AutoAttack runs on fewer than 10 classes).
 */
export function ensembleStages(
  options: AttackOptions,
  numClasses?: number,
): Pick<EnsembleReport, 'attacksRun' | 'attacksMissing' | 'nonStandard' | 'standard'> {
  const requested = options.attacks ?? [...ENSEMBLE_STAGES];
  const attacksRun = ENSEMBLE_STAGES.filter((stage) => requested.includes(stage));
  const attacksMissing = STANDARD_AUTOATTACK.filter((stage) => !(attacksRun as string[]).includes(stage));
  const standard = attacksDefaultsStandard();
  const nonStandard: string[] = [];
  const differs = (name: string, value: unknown, reference: unknown) => {
    if (value !== undefined && value !== reference) nonStandard.push(`${name} ${String(value)} (standard: ${String(reference)})`);
  };
  differs('norm', options.norm, 'linf');
  differs('steps', options.steps, standard.steps);
  differs('queries', options.queries, standard.queries);
  differs('squareFraction', options.squareFraction, standard.squareFraction);
  differs('squareSchedule', options.squareSchedule, standard.squareSchedule);
  if (options.targetClasses !== undefined && options.targetClasses !== standard.targetClasses) {
    const allOthers = numClasses !== undefined && options.targetClasses >= Math.min(standard.targetClasses, numClasses - 1);
    if (!allOthers) differs('targetClasses', options.targetClasses, standard.targetClasses);
  }
  return { attacksRun, attacksMissing, nonStandard, standard: attacksMissing.length === 0 && nonStandard.length === 0 };
}

function attacksDefaultsStandard() {
  return attackDefaults().standardAutoAttack;
}

/** Native stage numbers (1-based in cascade order, 0 clean, -1 robust) to names. */
export function stageNames(brokenBy: Int32Array, attacksRun: readonly EnsembleStage[]): (EnsembleStage | 'clean' | null)[] {
  void attacksRun;
  return Array.from(brokenBy, (code) => (code < 0 ? null : code === 0 ? 'clean' : ENSEMBLE_STAGES[code - 1]));
}

/** Keys of a call's options that are not attack options (they steer the call). */
const CALL_ONLY_KEYS = new Set(['targets', 'batchSize', 'logitBias', 'seed', 'onProgress', 'precision', 'memoryFormat', 'allowDatasetMismatch']);

/**
 * Converts public options into the addon's attack description. Every key is passed on (unknown ones too), so
 * that the addon, which knows each kind's options, refuses those the kind does not use by name.
 */
export function toNativeAttack(options: AttackOptions | null | undefined, targeted = false): NativeAttackConfig {
  if (!options) return { kind: 'none' };
  const config: NativeAttackConfig = { kind: options.kind };
  for (const [key, value] of Object.entries(options)) {
    if (!CALL_ONLY_KEYS.has(key)) config[key] = value;
  }
  // FGSM is one step whatever `steps` says (the CLI passes its default steps to every kind).
  if (options.kind === 'fgsm') config.steps = undefined;
  config.targeted = targeted;
  return config;
}

/** A short label for tables and logs, e.g. "PGD-20 Linf eps=0.1 step=0.0125". */
export function describeAttack(options: AttackOptions | null | undefined): string {
  if (!options) return 'no attack (clean)';
  if (typeof options !== 'object' || !Number.isFinite(options.eps)) throw invalidArgument('an attack needs { kind, eps } with a finite eps, e.g. { kind: "pgd", eps: 0.1 }');
  const norm = (options.norm ?? 'linf') === 'linf' ? 'Linf' : 'L2';
  if (options.kind === 'fgsm') {
    const rs = options.randomStart ? '-RS' : '';
    return `FGSM${rs} ${norm} eps=${round(options.eps)}${options.stepSize !== undefined ? ` step=${round(options.stepSize)}` : ''}`;
  }
  const restarts = (options.restarts ?? 1) > 1 ? ` x${options.restarts} restarts` : '';
  const eps = `${norm} eps=${round(options.eps)}`;
  const defaults = attackDefaults().kinds[options.kind];
  if (!defaults) return `${String(options.kind)} ${eps}`;
  switch (options.kind) {
    case 'apgd-ce':
    case 'apgd-dlr':
      return `${options.kind.toUpperCase()}-${options.steps ?? defaults.steps} ${eps}${restarts}`;
    case 'apgd-t':
      return `APGD-T-${options.steps ?? defaults.steps} ${eps} top-${options.targetClasses ?? defaults.targetClasses} targets${restarts}`;
    case 'fab-t':
      return `FAB-T-${options.steps ?? defaults.steps} ${eps} top-${options.targetClasses ?? defaults.targetClasses} targets${restarts}`;
    case 'square': {
      const schedule = options.squareSchedule ?? defaults.squareSchedule;
      return `Square ${eps} ${options.queries ?? defaults.queries} queries, ${schedule} schedule${restarts}`;
    }
    case 'autoattack': {
      const { attacksRun, attacksMissing, nonStandard, standard } = ensembleStages(options);
      if (standard) return `standard AutoAttack ${eps} [${attacksRun.join(' -> ')}]`;
      const why = [...(attacksMissing.length ? [`without ${attacksMissing.join(', ')}`] : []), ...nonStandard];
      return `AutoAttack ${eps} [${attacksRun.join(' -> ')}] (NOT standard: ${why.join('; ')})`;
    }
    default:
      break;
  }
  const steps = options.steps ?? defaults.steps ?? 10;
  const stepSize = options.stepSize ?? ((defaults.stepSizeTimesSteps ?? 2.5) * options.eps) / Math.max(1, steps);
  const name = options.kind === 'cw' ? 'CW' : options.kind === 'tpgd' ? `T-PGD(T=${options.temperature})` : 'PGD';
  return `${name}-${steps} ${eps} step=${round(stepSize)}${restarts}`;
}

function round(value: number): number {
  return Number(value.toPrecision(4));
}

/**
 * Attacks a batch of images: a dataset (its uint8 images are scaled to [0,1] natively), or float images in [0,1]
 * with their labels.
 */
export async function attack(model: Model, data: AttackData, options: AttackCallOptions): Promise<AttackResult>;
export async function attack(model: Model, images: Float32Array | Uint8Array, labels: Int32Array, options: AttackCallOptions): Promise<AttackResult>;
export async function attack(
  model: Model,
  first: AttackData | Float32Array | Uint8Array,
  second: Int32Array | AttackCallOptions,
  third?: AttackCallOptions,
): Promise<AttackResult> {
  if (!(model instanceof Model)) throw invalidArgument('attack needs a Model as its first argument (Model.create or Model.load)');
  // A dataset object, or the arrays themselves (checked natively, by name).
  const fromDataset = first !== null && typeof first === 'object' && !ArrayBuffer.isView(first) && !Array.isArray(first) && 'images' in first;
  const data: AttackData = fromDataset ? (first as AttackData) : { images: first as Float32Array, labels: second as Int32Array };
  const options = (fromDataset ? second : third) as AttackCallOptions;
  if (!options || typeof options !== 'object') throw invalidArgument('attack options must be an object such as { kind: "pgd", eps: 0.1 }');
  checkDatasetMatch(model, data, options.allowDatasetMismatch);
  const { images, labels } = data;
  const targeted = options.targets !== undefined;
  const result = await model.native.attack(
    { images, labels, targets: options.targets },
    {
      attack: toNativeAttack(options, targeted),
      batchSize: options.batchSize ?? 256,
      seed: options.seed ?? 0,
      logitBias: options.logitBias && Float64Array.from(options.logitBias),
      ...nativeFastPath(options, options.kind),
    },
    options.onProgress,
  );
  const goal = options.targets ?? labels;
  const success = new Uint8Array(labels.length);
  let successes = 0;
  for (let i = 0; i < labels.length; i++) {
    const hit = targeted ? result.predictions[i] === goal[i] : result.predictions[i] !== labels[i];
    success[i] = hit ? 1 : 0;
    successes += success[i];
  }
  const { brokenBy, ...rest } = result;
  const report: AttackResult = { ...rest, success, successRate: labels.length ? successes / labels.length : 0 };
  if (options.kind === 'autoattack' && brokenBy) {
    const stages = ensembleStages(options, model.numClasses);
    report.ensemble = { ...stages, brokenBy: stageNames(brokenBy, stages.attacksRun) };
  }
  return report;
}
