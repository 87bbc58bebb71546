/**
 * Robust-fairness training methods for any number of classes: FRL (Xu et al. 2021), CFA (Wei et al. 2023), WAT
 * (Li & Liu 2023), DAFA (Lee et al. 2024) and FAAL (Zhang et al. 2024). The update rules are small pure functions
 * on per-class vectors (C entries, computed natively from the epoch or the validation split); FAAL's per-batch
 * solve runs natively inside the epoch (native/fairness.cc). Every setting's default is the official code's; the
 * ones that are ours are listed in FAIRNESS_OURS.
 */
import { availableMean, availableMin, isAvailable } from '../class-shares';
import { ClasswiseError } from '../errors';
import type { TrainMethod } from './trainer';

export const FAIRNESS_KINDS = ['frl-rw', 'frl-rm', 'frl-rwrm', 'cfa', 'wat', 'dafa', 'faal'] as const;
export type FairnessKind = (typeof FAIRNESS_KINDS)[number];

/** A method and its settings; every number left out takes the default of FAIRNESS_DEFAULTS for the kind. */
export interface FairnessOptions {
  kind: FairnessKind;
  /** FRL: the tolerated excess of a class's error over the average. */
  tau?: number;
  /** FRL: step of the re-weighting multipliers (a; the boundary one moves 2a). */
  rate?: number;
  /** FRL-RM: step of the re-margin multiplier. */
  rate2?: number;
  /** FRL: the multipliers' sum is rescaled to at most lim. */
  lim?: number;
  /** CFA: eps multiplier offset (CCM) and beta multiplier offset (CCR). */
  l1?: number;
  l2?: number;
  /** CFA FAWA: average decay and the worst-class robust accuracy a model must reach to join the average. */
  alpha?: number;
  delta?: number;
  /** CFA: first epoch (1-based) whose model may join the FAWA average. */
  begin?: number;
  /** WAT: Hedge learning rate. */
  eta?: number;
  /** DAFA: strength of the class-wise adjustment; warm-up as a fraction of the epochs. */
  lam?: number;
  warmup?: number;
  /** FAAL: radius of the KL ball around the uniform class distribution. */
  radius?: number;
  /** Validation split: images per class carved from the training data (by seed), and PGD steps on it. */
  validationPerClass?: number;
  validationSteps?: number;
}

/** The options each kind takes (besides kind). */
export const KIND_OPTIONS: Record<FairnessKind, readonly (keyof FairnessOptions)[]> = {
  'frl-rw': ['tau', 'rate', 'lim', 'validationPerClass', 'validationSteps'],
  'frl-rm': ['tau', 'rate2', 'validationPerClass', 'validationSteps'],
  'frl-rwrm': ['tau', 'rate', 'rate2', 'lim', 'validationPerClass', 'validationSteps'],
  cfa: ['l1', 'l2', 'alpha', 'delta', 'begin', 'validationPerClass', 'validationSteps'],
  wat: ['eta', 'validationPerClass', 'validationSteps'],
  dafa: ['lam', 'warmup', 'validationPerClass', 'validationSteps'],
  faal: ['radius', 'validationPerClass', 'validationSteps'],
};

/** The base methods (--method) each kind is defined on. */
export const FAIRNESS_BASE_METHODS: Record<FairnessKind, readonly TrainMethod[]> = {
  'frl-rw': ['trades'],
  'frl-rm': ['trades'],
  'frl-rwrm': ['trades'],
  cfa: ['pgd', 'trades'],
  wat: ['trades'],
  dafa: ['pgd', 'trades'],
  faal: ['pgd', 'trades'],
};

/** Settings of a kind after defaults (validationPerClass is resolved against the data later). */
export type ResolvedFairness = Required<Omit<FairnessOptions, 'validationPerClass'>> & { validationPerClass?: number };

/** Where a default is ours rather than the official code's (printed in the run header and docs/fairness.md). */
export const FAIRNESS_OURS: Record<FairnessKind, string> = {
  'frl-rw': 'the validation split is scaled to a fifth of the smallest class when it has fewer than 1,500 images',
  'frl-rm': 'the validation split is scaled to a fifth of the smallest class when it has fewer than 1,500 images',
  'frl-rwrm': 'the validation split is scaled to a fifth of the smallest class when it has fewer than 1,500 images',
  cfa: 'FAWA starts at epoch 10 of any schedule (CFA starts it at a fixed epoch of its 100- or 200-epoch runs)',
  wat: 'the validation split is 2% per class (as CFA\'s; the official code holds out its own split)',
  dafa: 'W is clamped at 0.01 (the formula lets it go negative); the validation split is used for selection only',
  faal: 'the validation split is used for selection only',
};

/** A checked number within [min, max]; the message names the option and the fix. */
function checkNumber(kind: FairnessKind, key: string, value: unknown, min: number, max: number, integer = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new ClasswiseError('ERR_OUT_OF_RANGE', `fairness ${kind}: ${key} is ${typeof value === 'number' ? String(value) : JSON.stringify(value)}; expected ${integer ? 'an integer' : 'a number'} in [${min}, ${max}]`);
  }
  return value;
}

const RANGES: Record<string, [number, number, boolean?]> = {
  tau: [0, 1], rate: [0, 100], rate2: [0, 100], lim: [0, 1e6], l1: [0, 10], l2: [0, 10], alpha: [0, 1], delta: [0, 1],
  begin: [1, 1e6, true], eta: [0, 1e6], lam: [0, 100], warmup: [0, 1], radius: [0, 1e6], validationPerClass: [1, 1e7, true],
  validationSteps: [1, 10000, true],
};

/**
 * The settings of a fairness method with every default filled in, checked against the base method: an unknown
 * kind, an option the kind does not use, a base method the kind is not defined on and a non-finite value are
 * refused with one line naming the value and the fix.
 */
export function resolveFairness(options: FairnessOptions, method: TrainMethod): ResolvedFairness {
  if (!options || typeof options !== 'object') throw new ClasswiseError('ERR_INVALID_ARGUMENT', `fairness must be an object such as { kind: "cfa" }; kinds: ${FAIRNESS_KINDS.join(', ')}`);
  const kind = options.kind;
  if (!(FAIRNESS_KINDS as readonly string[]).includes(kind)) {
    throw new ClasswiseError('ERR_INVALID_ARGUMENT', `--fairness is "${kind}"; accepted: ${FAIRNESS_KINDS.join(', ')}`);
  }
  const allowed = KIND_OPTIONS[kind];
  for (const key of Object.keys(options)) {
    if (key === 'kind' || (options as unknown as Record<string, unknown>)[key] === undefined) continue;
    if (!(allowed as readonly string[]).includes(key)) {
      throw new ClasswiseError('ERR_INVALID_ARGUMENT', `fairness ${kind} does not use ${key}; its options are ${allowed.join(', ')}`);
    }
  }
  const bases = FAIRNESS_BASE_METHODS[kind];
  if (!bases.includes(method)) {
    throw new ClasswiseError('ERR_INVALID_ARGUMENT', `--fairness ${kind} is defined on --method ${bases.join(' or ')}, not ${method}; pass --method ${bases[bases.length - 1]}`);
  }
  const frl = kind.startsWith('frl');
  const defaults: ResolvedFairness = {
    kind,
    tau: kind === 'frl-rwrm' ? 0.07 : 0.1,
    rate: 0.05,
    rate2: 0.2,
    lim: 0.5,
    l1: method === 'trades' ? 0.3 : 0.5,
    l2: 0.5,
    alpha: 0.85,
    delta: 0.2,
    begin: 10,
    eta: 0.1,
    lam: 1.0,
    warmup: 0.7,
    radius: 0.5,
    validationSteps: frl ? 20 : 10,
  };
  const resolved: ResolvedFairness = { ...defaults };
  for (const key of allowed) {
    const value = (options as unknown as Record<string, unknown>)[key];
    if (value === undefined) continue;
    const [min, max, integer] = RANGES[key];
    (resolved as unknown as Record<string, number>)[key] = checkNumber(kind, key, value, min, max, integer);
  }
  if (options.validationPerClass !== undefined) resolved.validationPerClass = options.validationPerClass;
  return resolved;
}

/** DAFA's lam: 1.0 for ten classes or fewer, 1.5 for more (the paper's CIFAR-100 setting), unless given. */
export function dafaLambda(options: FairnessOptions, classes: number): number {
  return options.lam ?? (classes > 10 ? 1.5 : 1.0);
}

/**
 * Validation images per class: the given number (refused when a class has no more than that, since training needs
 * some), else the kind's default: FRL 300 (a fifth of the smallest class when that is fewer), 2% of the smallest
 * class otherwise (CFA's split), at least 1.
 */
export function validationPerClass(kind: FairnessKind | undefined, given: number | undefined, smallestClass: number, smallestName: string): number {
  if (given !== undefined) {
    if (given >= smallestClass) {
      throw new ClasswiseError('ERR_OUT_OF_RANGE', `the validation split of ${given} per class is not smaller than class "${smallestName}" ` +
        `(${smallestClass} training images); pass --validation-per-class below ${smallestClass}`);
    }
    return given;
  }
  const frl = kind !== undefined && kind.startsWith('frl');
  const size = frl ? Math.min(300, Math.floor(smallestClass / 5)) : Math.floor(smallestClass * 0.02);
  return Math.max(1, Math.min(size, smallestClass - 1));
}

// ---------- FRL ----------

/** N: negative entries to 0, then rescaled so the sum is at most lim. */
export function normalizeMultipliers(multipliers: readonly number[], lim: number): number[] {
  const clamped = multipliers.map((value) => Math.max(0, value));
  const sum = clamped.reduce((a, b) => a + b, 0);
  return sum > lim ? clamped.map((value) => (lim * value) / sum) : clamped;
}

/**
 * Per-class clean error and boundary error (clean minus robust accuracy), and their averages over the classes.
 * A class without validation examples (accuracy NaN) is left out of the averages and given them as its errors,
 * so its multipliers move by -tau only.
 */
export function frlErrors(cleanAccuracy: readonly number[], robustAccuracy: readonly number[]): { natural: number[]; boundary: number[]; averageNatural: number; averageBoundary: number } {
  const measured = cleanAccuracy.map((clean, k) => isAvailable(clean) && isAvailable(robustAccuracy[k]));
  const averageNatural = availableMean(cleanAccuracy.map((clean, k) => (measured[k] ? 1 - clean : NaN)));
  const averageBoundary = availableMean(cleanAccuracy.map((clean, k) => (measured[k] ? clean - robustAccuracy[k] : NaN)));
  const natural = cleanAccuracy.map((clean, k) => (measured[k] ? 1 - clean : averageNatural));
  const boundary = cleanAccuracy.map((clean, k) => (measured[k] ? clean - robustAccuracy[k] : averageBoundary));
  return { natural, boundary, averageNatural, averageBoundary };
}

/** l0 <- N(l0 + a(e_nat - E_nat - tau)), l1 <- N(l1 + 2a(e_bndy - E_bndy - tau)). */
export function frlMultipliers(
  previous: { natural: readonly number[]; boundary: readonly number[] },
  errors: ReturnType<typeof frlErrors>,
  settings: { rate: number; tau: number; lim: number },
): { natural: number[]; boundary: number[] } {
  const natural = previous.natural.map((l, k) => l + settings.rate * (errors.natural[k] - errors.averageNatural - settings.tau));
  const boundary = previous.boundary.map((l, k) => l + 2 * settings.rate * (errors.boundary[k] - errors.averageBoundary - settings.tau));
  return { natural: normalizeMultipliers(natural, settings.lim), boundary: normalizeMultipliers(boundary, settings.lim) };
}

/** Class weights w = 1/C + l - sum(l)/C (they sum to 1). */
export function frlWeights(multipliers: readonly number[]): number[] {
  const classes = multipliers.length;
  const sum = multipliers.reduce((a, b) => a + b, 0);
  return multipliers.map((l) => 1 / classes + l - sum / classes);
}

/** RM: l2 <- l2 + rate2(e_bndy - E_bndy - tau). */
export function rmMultipliers(previous: readonly number[], errors: ReturnType<typeof frlErrors>, settings: { rate2: number; tau: number }): number[] {
  return previous.map((l, k) => l + settings.rate2 * (errors.boundary[k] - errors.averageBoundary - settings.tau));
}

const RM_EPS_MIN = 0.98;
const RM_EPS_MAX = 3;

/** RM's eps multiplier of a class: clamp(exp(2 l2), 0.98, 3). */
export function rmEpsScale(multiplier: number): number {
  return Math.min(RM_EPS_MAX, Math.max(RM_EPS_MIN, Math.exp(2 * multiplier)));
}

// ---------- CFA ----------

/** CCM: class-wise eps (l1 + t_k) * eps from each class's training robust accuracy t_k of the previous epoch. */
export function cfaClassEps(trainRobust: readonly number[], l1: number, eps: number): number[] {
  return trainRobust.map((t) => (l1 + t) * eps);
}

/** CCR: class-wise TRADES beta (l2 + t_k) * beta. */
export function cfaClassBeta(trainRobust: readonly number[], l2: number, beta: number): number[] {
  return trainRobust.map((t) => (l2 + t) * beta);
}

/**
 * CCR's loss (CE + beta_y KL) / (1 + beta_y) as the two TRADES weights the addon takes (it multiplies the KL by
 * the run's beta): natural 1 / (1 + beta_y), robust beta_y / (beta (1 + beta_y)).
 */
export function cfaTradesWeights(classBeta: readonly number[], beta: number): { natural: number[]; robust: number[] } {
  return {
    natural: classBeta.map((b) => 1 / (1 + b)),
    robust: classBeta.map((b) => (beta > 0 ? b / (beta * (1 + b)) : 0)),
  };
}

/**
 * FAWA's gate: the epoch's model joins the average when its worst class's validation robust accuracy reaches
 * delta (classes without validation examples left out).
 */
export function fawaGate(robustAccuracy: readonly number[], delta: number): boolean {
  return availableMin(robustAccuracy) >= delta;
}

/** avg <- alpha avg + (1 - alpha) theta, elementwise in float64 and rounded to float32 once (deterministic). */
export function fawaAverage(average: Float32Array | undefined, theta: Float32Array, alpha: number): Float32Array {
  if (!average) return Float32Array.from(theta);
  const next = new Float32Array(theta.length);
  for (let i = 0; i < theta.length; i++) next[i] = alpha * average[i] + (1 - alpha) * theta[i];
  return next;
}

// ---------- WAT ----------

/**
 * Hedge over C + 1 entries (the classes and their average): w = C softmax(eta * cumulative loss); class c's
 * weight on the per-example loss is w_c + w_avg. Before the first round every entry is 1 (the official code's
 * initial weights), so every class weighs 2: see watRoundWeights.
 */
export function watWeights(cumulativeLoss: readonly number[], eta: number): number[] {
  const classes = cumulativeLoss.length - 1;
  const scaled = cumulativeLoss.map((loss) => eta * loss);
  const top = Math.max(...scaled);
  const exps = scaled.map((value) => Math.exp(value - top));
  const total = exps.reduce((a, b) => a + b, 0);
  const w = exps.map((value) => (classes * value) / total);
  return w.slice(0, classes).map((value) => value + w[classes]);
}

/** The class weights of an epoch after `rounds` Hedge rounds: 2 for every class before the first (entries all 1). */
export function watRoundWeights(cumulativeLoss: readonly number[], rounds: number, eta: number): number[] {
  return rounds === 0 ? new Array<number>(cumulativeLoss.length - 1).fill(2) : watWeights(cumulativeLoss, eta);
}

/**
 * WAT's per-class loss on the validation split, as its official code: the mean TRADES loss of the class's
 * examples, natural cross-entropy + beta KL(p(x) || p(x')) with x' from TRADES' inner maximisation.
 */
export function watClassLoss(meanLoss: readonly number[], meanTradesKl: readonly number[], beta: number): number[] {
  return meanLoss.map((loss, k) => loss + beta * meanTradesKl[k]);
}

/**
 * WAT's per-epoch input: the class losses followed by the mean loss over all examples (the class losses
 * weighted by their counts; the plain mean of the class losses without counts).
 */
export function watLossEntry(classLoss: readonly number[], counts?: readonly number[]): number[] {
  const weights = counts ?? classLoss.map(() => 1);
  const total = weights.reduce((a, b) => a + b, 0);
  const average = total > 0 ? classLoss.reduce((sum, loss, k) => sum + weights[k] * loss, 0) / total : 0;
  return [...classLoss, average];
}

// ---------- DAFA ----------

export const DAFA_MIN_WEIGHT = 0.01;

/**
 * DAFA's class weights from the mean softmax p[i][j] of class i's training adversarial examples: starting from 1,
 * W_i += lam p_i(j) p_j(j) for every j that class i is harder than (p_i(i) < p_j(j)), W_i -= lam p_j(i) p_i(i)
 * for every j it is easier than; clamped at DAFA_MIN_WEIGHT.
 */
export function dafaWeights(meanProbabilities: readonly (readonly number[])[], lam: number): number[] {
  const classes = meanProbabilities.length;
  const own = meanProbabilities.map((row, i) => row[i]);
  return meanProbabilities.map((row, i) => {
    let weight = 1;
    for (let j = 0; j < classes; j++) {
      if (j === i) continue;
      if (own[i] < own[j]) weight += lam * row[j] * own[j];
      else if (own[i] > own[j]) weight -= lam * meanProbabilities[j][i] * own[i];
    }
    return Math.max(DAFA_MIN_WEIGHT, weight);
  });
}

// ---------- state ----------

/** What a method carries from epoch to epoch; saved in every checkpoint (meta.config.fairnessState). */
export interface FairnessState {
  kind: FairnessKind;
  /** FRL: natural (l0), boundary (l1) and re-margin (l2) multipliers. */
  frl?: { natural: number[]; boundary: number[]; margin: number[] };
  /** CFA: each class's training robust accuracy of the last epoch (null before the first), FAWA updates so far. */
  cfa?: { trainRobust: number[] | null; fawaUpdates: number };
  /** WAT: the Hedge sums over C + 1 entries and the rounds summed so far. */
  wat?: { cumulativeLoss: number[]; rounds: number };
  /** DAFA: the weights once computed at the end of the warm-up (null before). */
  dafa?: { weights: number[] | null };
}

export function initialFairnessState(kind: FairnessKind, classes: number): FairnessState {
  const zeros = () => new Array<number>(classes).fill(0);
  if (kind.startsWith('frl')) return { kind, frl: { natural: zeros(), boundary: zeros(), margin: zeros() } };
  if (kind === 'cfa') return { kind, cfa: { trainRobust: null, fawaUpdates: 0 } };
  if (kind === 'wat') return { kind, wat: { cumulativeLoss: new Array<number>(classes + 1).fill(0), rounds: 0 } };
  if (kind === 'dafa') return { kind, dafa: { weights: null } };
  return { kind };
}

/** What one epoch trains with (the native per-class options). */
export interface FairnessEpochSettings {
  classWeights?: number[];
  classEps?: number[];
  naturalWeights?: number[];
  robustWeights?: number[];
  faalRadius?: number;
  classStatistics: boolean;
}

/** DAFA's warm-up length in epochs: the first epoch after it trains with W. */
export function dafaWarmupEpochs(settings: ResolvedFairness, epochs: number): number {
  return Math.max(1, Math.floor(settings.warmup * epochs));
}

/** The per-class options of `epoch` (0-based) from the state carried so far. */
export function fairnessEpochSettings(
  state: FairnessState,
  settings: ResolvedFairness,
  context: { epoch: number; epochs: number; eps: number; beta: number; method: TrainMethod; classes: number },
): FairnessEpochSettings {
  const { kind } = state;
  const trades = context.method === 'trades';
  if (state.frl) {
    const out: FairnessEpochSettings = { classStatistics: false };
    if (kind !== 'frl-rm') {
      out.naturalWeights = frlWeights(state.frl.natural).map((w) => w * context.classes);
      out.robustWeights = frlWeights(state.frl.boundary).map((w) => w * context.classes);
    }
    if (kind !== 'frl-rw') out.classEps = state.frl.margin.map((l) => Math.min(1, rmEpsScale(l) * context.eps));
    return out;
  }
  if (state.cfa) {
    const out: FairnessEpochSettings = { classStatistics: true };
    if (state.cfa.trainRobust) {
      out.classEps = cfaClassEps(state.cfa.trainRobust, settings.l1, context.eps).map((e) => Math.min(1, e));
      if (trades) {
        const weights = cfaTradesWeights(cfaClassBeta(state.cfa.trainRobust, settings.l2, context.beta), context.beta);
        out.naturalWeights = weights.natural;
        out.robustWeights = weights.robust;
      }
    }
    return out;
  }
  if (state.wat) return { classStatistics: false, classWeights: watRoundWeights(state.wat.cumulativeLoss, state.wat.rounds, settings.eta) };
  if (state.dafa) {
    const warmup = dafaWarmupEpochs(settings, context.epochs);
    // The last warm-up epoch measures the class similarities DAFA's weights come from.
    const out: FairnessEpochSettings = { classStatistics: context.epoch === warmup - 1 };
    const weights = state.dafa.weights;
    if (weights) {
      out.classEps = weights.map((w) => Math.min(1, w * context.eps));
      if (trades) out.naturalWeights = weights;
      else out.classWeights = weights;
    }
    return out;
  }
  return { classStatistics: false, faalRadius: settings.radius };
}

/** Refuses a multiplier or weight that turned non-finite (the run stops before training with it). */
export function checkFiniteSettings(settings: FairnessEpochSettings, kind: FairnessKind, epoch: number): void {
  for (const [name, values] of Object.entries(settings)) {
    if (!Array.isArray(values)) continue;
    const bad = values.findIndex((value) => !Number.isFinite(value));
    if (bad >= 0) {
      throw new ClasswiseError('ERR_NON_FINITE', `fairness ${kind}: ${name}[${bad}] is ${values[bad]} before epoch ${epoch + 1}; ` +
        'lower the method\'s rate or the learning rate');
    }
  }
}

/** The native training statistics of one epoch, per class. */
export interface TrainClassStatistics {
  count: Float64Array;
  correct: Float64Array;
  probabilitySum: Float64Array;
  marginSum: Float64Array;
}

/**
 * The state after epoch `epoch` (0-based): CFA's training robust accuracy, DAFA's weights at the end of the
 * warm-up, WAT's and FRL's updates from the validation split's per-class accuracy and loss.
 */
export function nextFairnessState(
  state: FairnessState,
  settings: ResolvedFairness,
  context: { epoch: number; epochs: number; classes: number; dafaLam: number; beta: number },
  measured: {
    train?: TrainClassStatistics;
    validation?: { counts: number[]; cleanAccuracy: number[]; robustAccuracy: number[]; meanLoss: number[]; meanTradesKl?: number[] };
    fawaUpdated?: boolean;
  },
): FairnessState {
  const classes = context.classes;
  if (state.frl && measured.validation) {
    const errors = frlErrors(measured.validation.cleanAccuracy, measured.validation.robustAccuracy);
    const multipliers = state.kind === 'frl-rm' ? { natural: state.frl.natural, boundary: state.frl.boundary } : frlMultipliers(state.frl, errors, settings);
    const margin = state.kind === 'frl-rw' ? state.frl.margin : rmMultipliers(state.frl.margin, errors, settings);
    return { kind: state.kind, frl: { ...multipliers, margin } };
  }
  if (state.cfa) {
    const train = measured.train;
    const trainRobust = train ? Array.from(train.correct, (correct, k) => (train.count[k] > 0 ? correct / train.count[k] : 0)) : state.cfa.trainRobust;
    return { kind: state.kind, cfa: { trainRobust, fawaUpdates: state.cfa.fawaUpdates + (measured.fawaUpdated ? 1 : 0) } };
  }
  if (state.wat && measured.validation) {
    const { meanLoss, meanTradesKl, counts } = measured.validation;
    if (!meanTradesKl) throw new Error('WAT needs the validation split\'s TRADES KL (evaluate with options.tradesAttack)');
    const entry = watLossEntry(watClassLoss(meanLoss, meanTradesKl, context.beta), counts);
    return { kind: state.kind, wat: { cumulativeLoss: state.wat.cumulativeLoss.map((sum, k) => sum + entry[k]), rounds: state.wat.rounds + 1 } };
  }
  if (state.dafa && !state.dafa.weights && measured.train && context.epoch === dafaWarmupEpochs(settings, context.epochs) - 1) {
    const train = measured.train;
    const mean = Array.from({ length: classes }, (_, i) =>
      Array.from({ length: classes }, (_, j) => (train.count[i] > 0 ? train.probabilitySum[i * classes + j] / train.count[i] : 0)));
    return { kind: state.kind, dafa: { weights: dafaWeights(mean, context.dafaLam) } };
  }
  return state;
}

/** How a run chooses best.safetensors. */
export const SELECT_SPLITS = ['validation', 'test'] as const;
export type SelectSplit = (typeof SELECT_SPLITS)[number];
export const SELECT_RULES = ['robust', 'robust+worst'] as const;
export type SelectRule = (typeof SELECT_RULES)[number];

/**
 * The selection score: overall robust accuracy, plus the worst class's for 'robust+worst' (CFA's rule; classes
 * without examples left out).
 */
export function selectionScore(rule: SelectRule, evaluation: { robustAccuracy: readonly number[]; overall: { robust: number } }): number {
  const worst = availableMin(evaluation.robustAccuracy);
  return rule === 'robust+worst' ? evaluation.overall.robust + (isAvailable(worst) ? worst : 0) : evaluation.overall.robust;
}

/**
 * The settings a run records (RunConfig.fairness): the kind and every option it uses with its default filled in,
 * except DAFA's lam when not given (it depends on the number of classes) and the validation size (RunConfig).
 */
export function recordedFairness(options: FairnessOptions, method: TrainMethod): FairnessOptions {
  const resolved = resolveFairness(options, method);
  const recorded: Record<string, unknown> = { kind: resolved.kind };
  for (const key of KIND_OPTIONS[resolved.kind]) {
    if (key === 'validationPerClass' || (key === 'lam' && options.lam === undefined)) continue;
    recorded[key] = (resolved as unknown as Record<string, unknown>)[key];
  }
  return recorded as unknown as FairnessOptions;
}
