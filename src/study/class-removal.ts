/**
 * Experiment 3 (claim 3, class removal), the protocol of docs/study.md (section 3) automated and resumable:
 *  1. select: in the full model, test examples of class k whose successful attacks (several attacks and
 *     seeds) only land in the target set S; control = examples of k that were also attacked into classes
 *     outside S;
 *  2. retrain: a run with fewer classes through the same code path as `train` (runTraining: the run's
 *     architecture, recipe and data loader, labels remapped, checkpoints every epoch, so a killed study resumes);
 *  3. attack: the same examples on the retrained model, with the same attack and stronger ones; report the
 *     share that stays correctly classified (no adversarial example found), beside the control.
 * Each stage writes its result into the study folder and is skipped when it is already there.
 * Under several ranks (a process group) every rank computes every stage, its attacks sharded and summed, so all
 * ranks hold the same selection and numbers; rank 0 alone writes, and every rank reads a stage's file before any
 * rank can write it, so they all take the same branch.
 */
import fs from 'fs';
import path from 'path';

import { AttackOptions, describeAttack as attackLabel } from '../attack';
import { writeFileAtomic } from '../checkpoint';
import { MemoryFormat, Precision } from '../fast-path';
import { defaultProcessGroup } from '../distributed/group';
import { DeviceName, Model } from '../model';
import { groupedBarsChart } from '../report/charts';
import { ReportSection } from '../report/study-report';
import { CHECKPOINT_FILE, CheckpointChoice, RunConfig, runTestSubset, runTraining } from '../run';
import { skipWarnings } from '../run/data';
import { adversarialConfusion, ConfusionStudy } from './confusion';
import { displayNames, intervalCells, percent, percentValue, points, pValue } from './format';
import { differenceInterval, fisherExact, formatShareWithInterval, Interval, wilsonInterval } from './proportions';
import { openModel, studyError } from './run-folder';
import { describeStreamed, evaluateTestImages, isStreamedTestImages, loadTestImages, restrictTestImages, selectTestImages } from './test-images';

export interface ClassRemovalOptions {
  /** How the retraining computes (default auto; fp32 + contiguous is the exact reference). */
  retrainPrecision?: Precision;
  retrainMemoryFormat?: MemoryFormat;
  /** Run folder or checkpoint of the full model; its RunConfig is the retraining recipe. */
  model: string;
  /** With a run folder: its last (default) or best checkpoint is the full model. */
  checkpoint?: CheckpointChoice;
  /** Study folder: selection.json, retrain/, attacks.json. */
  out: string;
  /** Source class k (name or index); default: the class of the largest single-target group. */
  source?: number | string;
  /** Target set S (names or indices); default: the single target of k's largest single-target group. */
  targets?: (number | string)[];
  /** Attacks and seeds of the selection (experiment 2). */
  selectionAttacks: AttackOptions[];
  seeds?: number;
  /** Attacks of stage 3, weakest first: the first is "the same budget" (usually the run's evaluation attack). */
  removalAttacks: AttackOptions[];
  /** Test examples per class studied (default: the run's evaluation subset). */
  testPerClass?: number | null;
  /** Retraining overrides (ours; the report states them): training examples per class, epochs. */
  retrainPerClass?: number | null;
  retrainEpochs?: number;
  /** A confusion study of the same model and test set, to skip its attacks (e.g. from `study all`). */
  confusion?: ConfusionStudy;
  device?: DeviceName;
  batchSize?: number;
  /** Recompute the stages whose recorded settings differ from these (default: refuse, as train --resume does). */
  fresh?: boolean;
  log?: (text: string) => void;
}

export interface Selection {
  classNames: string[];
  source: number;
  targets: number[];
  testPerClass: number | null;
  /** Indices into the studied test set. */
  selected: number[];
  control: number[];
  classExamples: number;
  selectionAttacks: string[];
  seeds: number;
  /** What the selection was made from and with; a rerun with other settings refuses or (fresh) recomputes. */
  settings?: Record<string, unknown>;
}

export interface RemovalAttackRow {
  attack: string;
  selected: { count: number; stillCorrect: number; share: number; predictedAs: Record<string, number> };
  control: { count: number; stillCorrect: number; share: number };
}

export interface ClassRemovalResult {
  selection: Selection;
  retrain: {
    config: RunConfig; architecture: string; keptClasses: string[]; trainExamples: number; overrides: string[]; clean: number; robust: number; robustOfSource: number; evalAttack: string;
    /** The full model on the same kept classes' test examples under the same attack (absent in studies written before). */
    fullOnKept?: { clean: number; robust: number };
    /** Test examples of the kept classes the retrained model was evaluated on. */
    testExamples?: number;
    settings?: Record<string, unknown>;
  };
  attacks: RemovalAttackRow[];
}

function resolveClass(names: string[], wanted: number | string): number {
  const index = typeof wanted === 'number' ? wanted : /^\d+$/.test(wanted) ? Number(wanted) : names.indexOf(wanted);
  if (!Number.isInteger(index) || index < 0 || index >= names.length) {
    throw studyError(`class ${JSON.stringify(wanted)} is not a class of this model; accepted: ${names.map((n) => JSON.stringify(n)).join(', ')} or 0..${names.length - 1}`, 'ERR_INVALID_ARGUMENT');
  }
  return index;
}

function readJson<T>(file: string): T | undefined {
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as T) : undefined;
}

/** The first setting whose value differs between a saved stage and this study, or undefined when all agree. */
function firstDifference(saved: Record<string, unknown>, wanted: Record<string, unknown>): string | undefined {
  for (const key of Object.keys(wanted)) {
    const before = JSON.stringify(saved[key] ?? null);
    const now = JSON.stringify(wanted[key] ?? null);
    if (before !== now) return `${key} (saved ${before}, now ${now})`;
  }
  return undefined;
}

/**
 * Whether a saved stage was made with the settings wanted. A difference throws ERR_STUDY_CHANGED naming it,
 * or with `fresh` removes the files of this stage and the later ones (`remove`) and says so.
 */
export function stageIsCurrent(check: { stage: number; file: string; saved: Record<string, unknown> | undefined; wanted: Record<string, unknown>; fresh?: boolean; log: (text: string) => void; remove: string[] }): boolean {
  const difference = check.saved ? firstDifference(check.saved, check.wanted) : undefined;
  if (check.saved && !difference) return true;
  const made = difference ? `was made with other ${difference}` : 'was made before stages recorded their settings';
  if (!check.fresh) {
    throw studyError(`${check.file} ${made}; pass --fresh to recompute this stage and the later ones, or choose another --out`, 'ERR_STUDY_CHANGED');
  }
  check.log(`stage ${check.stage}/3: ${check.file} ${made}; recomputing (--fresh)`);
  for (const file of check.remove) fs.rmSync(file, { recursive: true, force: true });
  return false;
}

/** Source and target set: given, or the largest group of examples that only ever go to one class. */
export function chooseSelection(study: ConfusionStudy, source?: number | string, targets?: (number | string)[]): { source: number; targets: number[] } {
  const names = study.classNames;
  const sourceIndex = source === undefined ? undefined : resolveClass(names, source);
  if (targets && targets.length) {
    if (sourceIndex === undefined) throw studyError('--targets needs --source', 'ERR_INVALID_ARGUMENT');
    const targetIndices = [...new Set(targets.map((t) => resolveClass(names, t)))];
    if (targetIndices.includes(sourceIndex)) throw studyError('the target set must not contain the source class', 'ERR_INVALID_ARGUMENT');
    return { source: sourceIndex, targets: targetIndices };
  }
  const group = study.singleTargetGroups.find((g) => sourceIndex === undefined || g.source === sourceIndex);
  if (!group) throw studyError(`no example${sourceIndex === undefined ? '' : ` of ${names[sourceIndex]}`} goes to a single target class; pass --targets`, 'ERR_STUDY');
  return { source: group.source, targets: [group.target] };
}

export function selectExamplesForRemoval(study: ConfusionStudy, source: number, targets: number[]): { selected: number[]; control: number[]; classExamples: number } {
  const inTargets = new Set(targets);
  const selected: number[] = [];
  const control: number[] = [];
  let classExamples = 0;
  study.targetSets.forEach((set, i) => {
    if (study.labels[i] !== source) return;
    classExamples++;
    if (set.length === 0 || (study.cleanCorrect && !study.cleanCorrect[i])) return;
    (set.every((t) => inTargets.has(t)) ? selected : control).push(i);
  });
  return { selected, control, classExamples };
}

export async function classRemoval(options: ClassRemovalOptions): Promise<ClassRemovalResult> {
  const log = options.log ?? (() => undefined);
  // Under a launcher the CLI sets the process-wide group, which the attacks of every stage are sharded over.
  const group = defaultProcessGroup();
  const writes = !group || group.rank === 0;
  // Every rank reads a stage's file, then waits for the others, so no rank sees a file rank 0 wrote in this run.
  const readStage = async <T>(file: string): Promise<T | undefined> => {
    const value = readJson<T>(file);
    await group?.barrier(`reading ${path.basename(file)}`);
    return value;
  };
  const save = (file: string, value: unknown) => {
    if (writes) writeFileAtomic(file, JSON.stringify(value));
  };
  if (writes) fs.mkdirSync(options.out, { recursive: true });
  const full = await openModel(options.model, options.device, options.checkpoint);
  if (!full.run) throw studyError(`${full.checkpointPath} has no run settings (meta.config.run); class removal retrains with the run's recipe`, 'ERR_STUDY');
  const run = full.run;
  const names = full.model.config.classNames;

  const selectionFile = path.join(options.out, 'selection.json');
  const retrainDir = path.join(options.out, 'retrain');
  const retrainFile = path.join(retrainDir, 'result.json');
  const attacksFile = path.join(options.out, 'attacks.json');
  // A stage made with other settings: refused, or with `fresh` removed with every later stage and recomputed.
  const stageFiles = [selectionFile, retrainFile, attacksFile];
  const checkStage = (stage: number, file: string, saved: Record<string, unknown> | undefined, wanted: Record<string, unknown>): boolean =>
    stageIsCurrent({ stage, file, saved, wanted, fresh: options.fresh, log, remove: writes ? [...stageFiles.slice(stage - 1), ...(stage <= 2 ? [retrainDir] : [])] : [] });

  // Stage 1: selection.
  const selectionSettings = {
    checkpoint: path.resolve(full.checkpointPath),
    epoch: full.meta.epoch,
    run,
    source: options.source ?? null,
    targets: options.targets ?? null,
    selectionAttacks: options.selectionAttacks.map(attackLabel),
    seeds: options.seeds ?? null,
    testPerClass: options.testPerClass ?? null,
  };
  let selection = await readStage<Selection>(selectionFile);
  if (selection && !checkStage(1, selectionFile, selection.settings, selectionSettings)) selection = undefined;
  const subset = runTestSubset(run, selection ? selection.testPerClass : options.testPerClass);
  const testPerClass = subset.perClass;
  // Every test image of a streamed dataset (ImageNet) is decoded at each evaluation instead of held in memory.
  const test = await loadTestImages(run, subset.perClass, subset.seed, skipWarnings(log));
  if (isStreamedTestImages(test)) log(`test set: ${describeStreamed(test)}`);
  if (selection) {
    log(`stage 1/3 select: reusing ${selectionFile} (${names[selection.source]} -> {${selection.targets.map((t) => names[t]).join(', ')}}, ${selection.selected.length} examples)`);
  } else {
    log(`stage 1/3 select: attacking ${test.count} test examples of the full model (${full.checkpointPath})`);
    const study = options.confusion ?? (await adversarialConfusion(full.model, test, { attacks: options.selectionAttacks, seeds: options.seeds, batchSize: options.batchSize, onStage: (text) => log(`  ${text}`) }));
    const { source, targets } = chooseSelection(study, options.source, options.targets);
    const picked = selectExamplesForRemoval(study, source, targets);
    selection = { classNames: names, source, targets, testPerClass, ...picked, selectionAttacks: study.attacks, seeds: study.seeds, settings: selectionSettings };
    save(selectionFile, selection);
    log(`  ${names[source]} -> {${targets.map((t) => names[t]).join(', ')}}: ${picked.selected.length} of ${picked.classExamples} ${names[source]} examples only go there; control ${picked.control.length}`);
  }
  if (selection.selected.length === 0) throw studyError(`no ${names[selection.source]} example is attacked only into {${selection.targets.map((t) => names[t]).join(', ')}}`, 'ERR_STUDY');

  // Stage 2: retrain without the target classes: a run of the kept classes, same architecture, recipe and loader.
  const kept = names.map((_, k) => k).filter((k) => !selection!.targets.includes(k));
  const overrides: string[] = [];
  // Class-specific mitigation settings are not carried over (they name classes of the full model).
  const { classWeights: _weights, classEps: _eps, mitigation: _mitigation, mitigationPerClass: _heldOut, ...recipe } = run;
  // The kept classes as the run named them (a run of a class subset keeps naming the dataset's classes).
  const config: RunConfig = { ...recipe, classes: kept.map((k) => (run.classes && run.classes.length > 0 ? run.classes[k] : k)) };
  if (options.retrainPerClass !== undefined && options.retrainPerClass !== run.trainPerClass) {
    config.trainPerClass = options.retrainPerClass;
    overrides.push(`training examples per class ${options.retrainPerClass ?? 'all'} (run: ${run.trainPerClass ?? 'all'})`);
  }
  if (options.retrainEpochs !== undefined && options.retrainEpochs !== run.epochs) {
    config.epochs = options.retrainEpochs;
    overrides.push(`epochs ${options.retrainEpochs} (run: ${run.epochs})`);
  }
  // The retrained run's own per-epoch evaluation only reports progress (stage 2 measures the model on the study's
  // subset afterwards), so it takes no more test images than that subset.
  if (testPerClass !== null && (run.evalPerClass === null || run.evalPerClass > testPerClass)) {
    config.evalPerClass = testPerClass;
    overrides.push(`evaluation per epoch on ${testPerClass} test images per class (run: ${run.evalPerClass ?? 'all'})`);
  }
  // The retrained model depends on the selection's targets and on the retraining recipe.
  const retrainSettings = {
    selection: selectionSettings, config, evalAttack: attackLabel(options.removalAttacks[0]),
    precision: options.retrainPrecision ?? 'auto', memoryFormat: options.retrainMemoryFormat ?? 'auto',
  };
  let retrain = await readStage<ClassRemovalResult['retrain']>(retrainFile);
  if (retrain && !checkStage(2, retrainFile, retrain.settings, retrainSettings)) retrain = undefined;
  const retrainedCheckpoint = path.join(retrainDir, CHECKPOINT_FILE);
  const keptTest = restrictTestImages(test, kept);
  if (retrain) {
    log(`stage 2/3 retrain: reusing ${retrainedCheckpoint}`);
  } else {
    let trainExamples = 0;
    log(`stage 2/3 retrain: ${config.method} training of ${config.architecture ?? 'the recipe\'s architecture'} on ${kept.length} classes (without ${selection.targets.map((t) => names[t]).join(', ')}), ${config.epochs} epochs${overrides.length ? `; ours: ${overrides.join(', ')}` : ', the run\'s recipe'}`);
    await runTraining(config, {
      out: retrainDir,
      resume: true,
      device: options.device,
      processGroup: group,
      precision: options.retrainPrecision,
      memoryFormat: options.retrainMemoryFormat,
      reporter: {
        start: ({ train: trainSet, model }) => {
          trainExamples = trainSet.count;
          log(`  ${model.architecture}, ${trainSet.count} training images`);
        },
        epochEnd: (record) => log(`  epoch ${record.epoch}/${config.epochs}: train loss ${record.trainLoss.toFixed(3)}, train acc ${percent(record.trainAccuracy)}, ${record.trainSeconds.toFixed(0)} s`),
        message: (text) => log(`  ${text}`),
      },
    });
    const { model } = await Model.load(retrainedCheckpoint, { device: options.device });
    const evalAttack = options.removalAttacks[0];
    log(`  evaluating the retrained model on ${keptTest.count} test examples under ${attackLabel(evalAttack)}`);
    const evaluation = await evaluateTestImages(model, keptTest, { attack: evalAttack, batchSize: options.batchSize });
    // The full model on the kept classes alone (its predictions may still name a removed class): the yardstick of the warning.
    const keptIndices = Array.from(test.labels.keys()).filter((i) => kept.includes(test.labels[i]));
    const fullEvaluation = await evaluateTestImages(full.model, selectTestImages(test, keptIndices, 'the kept classes'), { attack: evalAttack, batchSize: options.batchSize });
    const sourceNew = kept.indexOf(selection.source);
    retrain = {
      config,
      architecture: model.config.architecture,
      keptClasses: kept.map((k) => names[k]),
      trainExamples,
      overrides,
      clean: evaluation.overall.clean,
      robust: evaluation.overall.robust,
      robustOfSource: evaluation.robustAccuracy[sourceNew],
      evalAttack: attackLabel(evalAttack),
      settings: retrainSettings,
      fullOnKept: { clean: fullEvaluation.overall.clean, robust: fullEvaluation.overall.robust },
      testExamples: keptTest.count,
    };
    save(retrainFile, retrain);
  }

  // Stage 3: the same examples, same and stronger attacks.
  // attacks.json rows belong to the retrained model they were made on: settings beside the rows.
  const attacksSettings = retrainSettings;
  const savedAttacks = await readStage<{ settings: Record<string, unknown>; rows: RemovalAttackRow[] } | RemovalAttackRow[]>(attacksFile);
  let rows: RemovalAttackRow[] = [];
  if (savedAttacks) {
    const saved = Array.isArray(savedAttacks) ? { settings: undefined, rows: savedAttacks } : savedAttacks;
    if (checkStage(3, attacksFile, saved.settings, attacksSettings)) rows = saved.rows;
  }
  const { model: retrained } = await Model.load(retrainedCheckpoint, { device: options.device });
  const sourceNew = kept.indexOf(selection.source);
  // The studied examples, labelled with the source class's label in the retrained model, handed over once.
  const examples = (indices: number[]) =>
    selectTestImages(test, indices, 'class-removal examples', { labels: new Int32Array(indices.length).fill(sourceNew), classNames: retrained.config.classNames });
  const selectedData = examples(selection.selected);
  const controlData = examples(selection.control);
  for (const attackOptions of options.removalAttacks) {
    const label = attackLabel(attackOptions);
    if (rows.some((row) => row.attack === label)) {
      log(`stage 3/3 attack: ${label} already done`);
      continue;
    }
    log(`stage 3/3 attack: ${label} on ${selection.selected.length} selected and ${selection.control.length} control examples of the retrained model`);
    const onSelected = await evaluateTestImages(retrained, selectedData, { attack: attackOptions, batchSize: options.batchSize });
    const onControl = selection.control.length ? await evaluateTestImages(retrained, controlData, { attack: attackOptions, batchSize: options.batchSize }) : undefined;
    // Row `sourceNew` of the adversarial confusion: where the attacked examples ended up.
    const predictedAs: Record<string, number> = {};
    onSelected.adversarialConfusion[sourceNew].forEach((count, k) => {
      if (count > 0) predictedAs[retrained.config.classNames[k]] = count;
    });
    const correct = (result: typeof onSelected | undefined) => (result ? result.adversarialConfusion[sourceNew][sourceNew] : 0);
    const row: RemovalAttackRow = {
      attack: label,
      selected: { count: selection.selected.length, stillCorrect: correct(onSelected), share: correct(onSelected) / selection.selected.length, predictedAs },
      control: { count: selection.control.length, stillCorrect: correct(onControl), share: selection.control.length ? correct(onControl) / selection.control.length : NaN },
    };
    rows = [...rows, row];
    save(attacksFile, { settings: attacksSettings, rows });
    log(`  still correct: selected ${percent(row.selected.share)} (${row.selected.stillCorrect}/${row.selected.count}), control ${percent(row.control.share)} (${row.control.stillCorrect}/${row.control.count})`);
  }
  const order = options.removalAttacks.map(attackLabel);
  return { selection, retrain: retrain!, attacks: rows.filter((row) => order.includes(row.attack)).sort((a, b) => order.indexOf(a.attack) - order.indexOf(b.attack)) };
}

/** Below this many examples in the selected or the control set a share moves by 5 points or more per example. */
export const SMALL_SET = 20;
/** Points of clean or robust accuracy the retrained model may lose on the kept classes before the report warns. */
export const RETRAIN_DROP_WARNING = 0.1;

/** Selected vs control under one attack: the difference of the shares still correct, its 95% interval, Fisher's p. */
export function removalTest(row: RemovalAttackRow): { difference: number; interval: Interval; fisherP: number } {
  const { selected, control } = row;
  return {
    difference: control.count ? selected.share - control.share : NaN,
    interval: control.count ? differenceInterval(selected.stillCorrect, selected.count, control.stillCorrect, control.count) : { low: NaN, high: NaN },
    fisherP: fisherExact(selected.stillCorrect, selected.count - selected.stillCorrect, control.stillCorrect, control.count - control.stillCorrect),
  };
}

/** The warnings a reader needs before trusting the comparison: sets too small, a retrained model much weaker. */
export function classRemovalWarnings(result: ClassRemovalResult): string[] {
  const warnings: string[] = [];
  const { selected, control } = result.selection;
  for (const [name, set] of [['selected', selected], ['control', control]] as const) {
    if (set.length < SMALL_SET) {
      warnings.push(`warning: the ${name} set has ${set.length} example${set.length === 1 ? '' : 's'} (under ${SMALL_SET}): one example moves its share by ${set.length ? (100 / set.length).toFixed(1) : 'n/a'} points; read the intervals, not the percentages.`);
    }
  }
  const { retrain } = result;
  if (retrain.fullOnKept) {
    for (const metric of ['clean', 'robust'] as const) {
      const drop = retrain.fullOnKept[metric] - retrain[metric];
      if (drop > RETRAIN_DROP_WARNING) {
        warnings.push(`warning: the retrained model's ${metric} accuracy on the kept classes is ${percent(retrain[metric])}, ${points(drop)} below the full model's ${percent(retrain.fullOnKept[metric])} on the same examples: it may be undertrained, and "no adversarial example any more" then compares a weaker model.`);
      }
    }
  }
  return warnings;
}

function signedPoints(share: number): string {
  return Number.isFinite(share) ? `${share >= 0 ? '+' : ''}${(100 * share).toFixed(1)}` : 'n/a';
}

function countWithInterval(successes: number, n: number): { value: number; low?: number; high?: number } {
  if (n === 0) return { value: 0 };
  const interval = wilsonInterval(successes, n);
  return { value: percentValue(successes / n), low: percentValue(interval.low), high: percentValue(interval.high) };
}

export function classRemovalSection(result: ClassRemovalResult): ReportSection {
  const { selection, retrain } = result;
  const names = displayNames(selection.classNames);
  const source = names[selection.source];
  const targets = selection.targets.map((t) => names[t]).join(', ');
  const tests = result.attacks.map(removalTest);
  const findings = [
    `${selection.selected.length} of ${selection.classExamples} ${source} test examples (clean-correct) were only ever attacked into {${targets}} (control: ${selection.control.length} ${source} examples also attacked into other classes).`,
    ...classRemovalWarnings(result),
    ...result.attacks.map(
      (row, i) =>
        `after retraining without {${targets}}, under ${row.attack}: ${formatShareWithInterval(row.selected.share, wilsonInterval(row.selected.stillCorrect, row.selected.count))} of the selected examples (${row.selected.stillCorrect}/${row.selected.count}) have no adversarial example any more, ` +
        `vs ${row.control.count ? formatShareWithInterval(row.control.share, wilsonInterval(row.control.stillCorrect, row.control.count)) : 'n/a'} of the control (${row.control.stillCorrect}/${row.control.count}); ` +
        `difference ${signedPoints(tests[i].difference)} [${signedPoints(tests[i].interval.low)}, ${signedPoints(tests[i].interval.high)}], Fisher's exact test p = ${pValue(tests[i].fisherP)}.`,
    ),
    `retrained model (${retrain.keptClasses.length} classes): clean ${percent(retrain.clean)}, robust ${percent(retrain.robust)} under ${retrain.evalAttack}; ${source} robust ${percent(retrain.robustOfSource)}` +
      (retrain.fullOnKept ? `; the full model on the same ${retrain.testExamples ?? ''} examples of the kept classes: clean ${percent(retrain.fullOnKept.clean)}, robust ${percent(retrain.fullOnKept.robust)}.` : '.'),
  ];
  const bars = result.attacks.flatMap((row) => [
    { className: row.attack, group: `selected (only -> ${targets})`, ...countWithInterval(row.selected.stillCorrect, row.selected.count) },
    { className: row.attack, group: 'control', ...countWithInterval(row.control.stillCorrect, row.control.count) },
  ]);
  return {
    id: 'class-removal',
    title: '3. Class removal',
    description:
      `Protocol (ours, docs/study.md#3-class-removal), on the study's test subset (${selection.testPerClass ?? 'all'} test examples per class): in the full model, ${source} test examples classified correctly without attack whose successful attacks (${selection.selectionAttacks.join('; ')}, ${selection.seeds} seeds each) only land in {${targets}} are selected; ` +
      `the model is adversarially retrained with the run's recipe on the training data without {${targets}} (labels remapped, ${retrain.trainExamples} images, ${retrain.config.epochs} epochs${retrain.overrides.length ? `; our changes: ${retrain.overrides.join(', ')}` : ''}); ` +
      `the same examples are attacked again. In the full model every selected and control example had an adversarial example (0% by construction).`,
    findings,
    charts: [{ spec: groupedBarsChart({ title: `${source}: share with no adversarial example after removing {${targets}} (%)`, rows: bars, yTitle: 'still correctly classified (%)', classOrder: result.attacks.map((r) => r.attack), xTitle: 'attack on the retrained model' }), caption: 'Full model: 0% for both sets by construction. Error bars: 95% Wilson intervals.' }],
    tables: [
      {
        title: 'Share still correctly classified after retraining without the target classes',
        columns: [
          'attack', 'selected n', 'selected still correct %', 'selected 95% low', 'selected 95% high', 'control n', 'control still correct %', 'control 95% low', 'control 95% high',
          'difference (points)', 'difference 95% low', 'difference 95% high', 'Fisher p', 'selected now predicted as',
        ],
        note: "Difference = selected minus control, with Newcombe's hybrid score interval; Fisher's exact test (two-sided) of still correct vs not, selected vs control.",
        rows: result.attacks.map((row, i) => [
          row.attack,
          row.selected.count,
          percentValue(row.selected.share),
          ...intervalCells(row.selected.share, row.selected.count),
          row.control.count,
          row.control.count ? percentValue(row.control.share) : null,
          ...(row.control.count ? intervalCells(row.control.share, row.control.count) : [null, null]),
          percentValue(tests[i].difference),
          percentValue(tests[i].interval.low),
          percentValue(tests[i].interval.high),
          Number(tests[i].fisherP.toPrecision(3)),
          Object.entries(row.selected.predictedAs).sort((a, b) => b[1] - a[1]).map(([name, count]) => `${name} ${count}`).join('; '),
        ]),
      },
    ],
    data: result,
  };
}

