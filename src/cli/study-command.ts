/**
 * `classwise-at study <experiment>`: each experiment of the class-wise study as one command on a run
 * folder (or checkpoint); writes report.html, report.json and csv/ into --out and prints the findings.
 */
import { Command, Option } from 'commander';
import fs from 'fs';
import path from 'path';

import { AttackOptions } from '../attack';
import { autoFastPath, MEMORY_FORMATS, MemoryFormat, Precision, PRECISIONS } from '../fast-path';
import { DeviceName } from '../model';
import { ROBUST_DEFINITION } from '../report/class-table';
import { describeCounts } from '../study/format';
import { formatFindings, ReportSection, StudyReport, writeReport } from '../report/study-report';
import { describeAttack as attackLabel } from '../attack';
import { ClasswiseError } from '../errors';
import { ATTACK_SPEC_HELP, BEST_CHECKPOINT_FILE, CHECKPOINT_FILE, evalAttack, METRICS_FILE, parseAttackList, RunConfig, runTestSubset } from '../run';
import { skipWarnings } from '../run/data';
import { FolderLock, lockFolder } from '../run/lock';
import { attackStrength, attackStrengthSection } from '../study/attack-strength';
import { classRemoval, classRemovalSection } from '../study/class-removal';
import { adversarialConfusion, ConfusionStudy, confusionSection } from '../study/confusion';
import { robustnessOverEpochs, robustnessOverEpochsSection } from '../study/epochs';
import { mitigationComparison, mitigationSection, parseLogitBias } from '../study/mitigation';
import { openModel, OpenedModel, readMetrics, studyError } from '../study/run-folder';
import { NativeImageSet } from '../data/native-dataset';
import { describeStreamed, isStreamedTestImages, loadTestImages, StreamedTestImages } from '../study/test-images';
import { reportFromJson } from '../study/render';
import { temperatureSection, temperatureSweep } from '../study/temperature';
import { weightNormSection, weightNormStudy } from '../study/weight-norm';
import { setDefaultProcessGroup } from '../distributed/group';
import { MEMORY_FORMAT_HELP, parseChoice, parseDevice, parseInteger, parseNumberIn, parsePerClass, perClassValue, PRECISION_HELP } from './parse';
import { addRankOptions, ComputeCliOptions, joinRanks } from './ranks';
import { fairnessCommand } from './study-fairness-command';

export const EXPERIMENTS = ['epochs', 'confusion', 'removal', 'weight-norm', 'attacks', 'temperature', 'mitigation'] as const;
type Experiment = (typeof EXPERIMENTS)[number];

interface StudyCliOptions extends ComputeCliOptions {
  retrainPrecision: Precision;
  retrainMemoryFormat: MemoryFormat;
  run: string;
  out?: string;
  perClass?: number | 'all';
  eps?: number;
  attack?: string;
  attacks?: string;
  confusionAttacks?: string;
  seeds: number;
  source?: string;
  targets?: string;
  removalAttacks?: string;
  retrainPerClass?: number | 'all';
  retrainEpochs?: number;
  fresh?: boolean;
  compare?: string;
  temperatures: string;
  after?: string;
  logitBias?: string;
  skip?: string;
  quick?: boolean;
  best: boolean;
}

// Under a launcher only rank 0 speaks and writes the report.
let quiet = false;
const log = (text: string) => {
  if (!quiet) console.log(`[study] ${text}`);
};

function list(text: string | undefined): string[] {
  return (text ?? '').split(',').map((part) => part.trim()).filter((part) => part !== '');
}

/** Model-based experiments share the loaded model, its test set and the confusion study. */
class StudyContext {
  private opened?: OpenedModel;
  private test?: NativeImageSet | StreamedTestImages;
  confusion?: ConfusionStudy;

  constructor(readonly options: StudyCliOptions) {}

  async model(): Promise<OpenedModel> {
    this.opened ??= await openModel(this.options.run, this.options.device, this.options.best ? 'best' : 'last');
    return this.opened;
  }

  async eps(): Promise<number> {
    return this.options.eps ?? (await this.model()).run?.eps ?? 0.1;
  }

  /** --attack, else the run's evaluation attack. */
  async mainAttack(): Promise<AttackOptions> {
    if (this.options.attack) return parseAttackList(this.options.attack, { eps: await this.eps() }, '--attack')[0];
    const { run } = await this.model();
    if (!run) throw studyError('this checkpoint has no run settings: pass --attack, e.g. pgd@20', 'ERR_INVALID_ARGUMENT');
    return this.options.eps === undefined ? evalAttack(run) : { ...evalAttack(run), eps: this.options.eps, stepSize: undefined };
  }

  /**
   * The run's evaluation subset (or --per-class), loaded once through the run layer and handed to the addon once;
   * every test image of a streamed dataset (ImageNet, --per-class all) is decoded again at each evaluation instead.
   */
  async testSet(): Promise<NativeImageSet | StreamedTestImages> {
    if (!this.test) {
      const run = (await this.model()).run;
      // A bare checkpoint without run settings: Fashion-MNIST's test set, as before runs stored their settings.
      const settings: RunConfig = run ?? ({ dataset: 'fashion-mnist', evalPerClass: null, seed: 0 } as unknown as RunConfig);
      const { perClass, seed } = runTestSubset(settings, perClassValue(this.options.perClass));
      this.test = await loadTestImages(settings, perClass, seed, skipWarnings(log));
      if (isStreamedTestImages(this.test)) log(`data: ${describeStreamed(this.test)}`);
    }
    return this.test;
  }
}

async function section(experiment: Experiment, context: StudyContext, out: string): Promise<ReportSection> {
  const options = context.options;
  switch (experiment) {
    case 'epochs':
      return robustnessOverEpochsSection(robustnessOverEpochs(readMetrics(options.run), { seed: options.seed }));
    case 'weight-norm':
      return weightNormSection(weightNormStudy(readMetrics(options.run)));
    case 'confusion': {
      const { model } = await context.model();
      const test = await context.testSet();
      const attacks = options.confusionAttacks ? parseAttackList(options.confusionAttacks, { eps: await context.eps() }, '--confusion-attacks') : [await context.mainAttack()];
      log(`confusion: ${test.count} test examples, ${attacks.map(attackLabel).join('; ')}, ${options.seeds} seeds`);
      context.confusion = await adversarialConfusion(model, test, { attacks, seeds: options.seeds, seed: options.seed, batchSize: options.batchSize, onStage: (t) => log(`  ${t}`) });
      return confusionSection(context.confusion);
    }
    case 'removal': {
      const main = await context.mainAttack();
      const eps = await context.eps();
      const stronger = options.removalAttacks
        ? parseAttackList(options.removalAttacks, { eps }, '--removal-attacks')
        : [main, { ...main, steps: 5 * (main.steps ?? 10), stepSize: undefined, restarts: 5 }];
      const result = await classRemoval({
        model: options.run,
        checkpoint: options.best ? 'best' : 'last',
        out: path.join(out, 'class-removal'),
        source: options.source,
        targets: options.targets ? list(options.targets) : undefined,
        selectionAttacks: options.confusionAttacks ? parseAttackList(options.confusionAttacks, { eps }, '--confusion-attacks') : [main],
        seeds: options.seeds,
        removalAttacks: stronger,
        testPerClass: perClassValue(options.perClass),
        retrainPerClass: perClassValue(options.retrainPerClass),
        retrainEpochs: options.retrainEpochs,
        fresh: options.fresh,
        retrainPrecision: options.retrainPrecision,
        retrainMemoryFormat: options.retrainMemoryFormat,
        confusion: context.confusion,
        device: options.device,
        batchSize: options.batchSize,
        log: (text) => log(`removal ${text}`),
      });
      return classRemovalSection(result);
    }
    case 'attacks': {
      const { model } = await context.model();
      const test = await context.testSet();
      const attacks = parseAttackList(options.attacks!, { eps: await context.eps() }, '--attacks');
      const models = [{ label: path.basename(path.resolve(options.run)), model }];
      for (const other of list(options.compare)) models.push({ label: path.basename(path.resolve(other)), model: (await openModel(other, options.device)).model });
      log(`attacks: ${test.count} test examples, ${attacks.map(attackLabel).join('; ')}${models.length > 1 ? `; models ${models.map((m) => m.label).join(', ')}` : ''}`);
      return attackStrengthSection(await attackStrength(models, test, { attacks, seed: options.seed, batchSize: options.batchSize, onStage: (t) => log(`  ${t}`) }));
    }
    case 'temperature': {
      const { model } = await context.model();
      const test = await context.testSet();
      const temperatures = list(options.temperatures).map(Number);
      return temperatureSection(await temperatureSweep(model, test, { base: await context.mainAttack(), temperatures, seed: options.seed, batchSize: options.batchSize, onStage: (t) => log(`temperature ${t}`) }));
    }
    case 'mitigation': {
      const { model } = await context.model();
      const test = await context.testSet();
      const before = { label: `before (${path.basename(path.resolve(options.run))})`, model };
      let after: { label: string; model: typeof model; logitBias?: number[] };
      let mitigation: string;
      if (options.after) {
        after = { label: `after (${path.basename(path.resolve(options.after))})`, model: (await openModel(options.after, options.device)).model };
        mitigation = `the model of ${options.after} instead of ${options.run}`;
      } else if (options.logitBias) {
        after = { label: `logit bias ${options.logitBias}`, model, logitBias: parseLogitBias(options.logitBias, model.config.classNames) };
        mitigation = `per-class logit bias at inference (${options.logitBias}), added to the logits so the attack sees it`;
      } else {
        throw studyError('mitigation needs --after <run folder or checkpoint> or --logit-bias CLASS=VALUE,...', 'ERR_INVALID_ARGUMENT');
      }
      log(`mitigation: ${mitigation}, ${test.count} test examples`);
      return mitigationSection(await mitigationComparison(before, after, test, { attack: await context.mainAttack(), mitigation, seed: options.seed }));
    }
  }
}

async function runStudy(experiments: Experiment[], options: StudyCliOptions): Promise<void> {
  const ranks = await joinRanks(options);
  if (ranks.group) {
    // Every experiment's evaluations are sharded over the ranks; each rank gets the whole result. The removal's
    // retraining is data parallel like train, with rank 0 writing its folder.
    setDefaultProcessGroup(ranks.group);
    options.device = ranks.device as DeviceName;
    quiet = !ranks.leads;
    log(ranks.describe()!);
  }
  const name = experiments.length === 1 ? experiments[0] : 'all';
  const out = options.out ?? defaultStudyOut(options.run, name);
  // Rank 0 writes the report folder; one study at a time.
  let lock: FolderLock | undefined;
  // A missing run is reported by the experiment that reads it, before anything is written.
  if (ranks.leads && fs.existsSync(options.run)) {
    prepareReportFolder(out, options.run);
    lock = lockFolder(out, 'report folder', log);
  }
  try {
    await studyInto(experiments, options, ranks, out);
  } finally {
    lock?.release();
  }
}

/** <run>/study-NAME for a run folder; beside a checkpoint file, <file without .safetensors>-study-NAME. */
function defaultStudyOut(run: string, name: string): string {
  if (fs.existsSync(run) && !fs.statSync(run).isDirectory()) {
    return path.join(path.dirname(run), `${path.basename(run).replace(/\.safetensors$/, '')}-study-${name}`);
  }
  return path.join(run, `study-${name}`);
}

/** A report folder is created when missing; a file, or a run folder (the run's own files), is refused. */
function prepareReportFolder(out: string, run: string): void {
  if (fs.existsSync(out) && !fs.statSync(out).isDirectory()) {
    throw new ClasswiseError('ERR_INVALID_ARGUMENT', `--out ${out} is a file; expected a report folder (created when missing)`);
  }
  const runFile = [CHECKPOINT_FILE, BEST_CHECKPOINT_FILE, METRICS_FILE].find((file) => fs.existsSync(path.join(out, file)));
  if (runFile) {
    throw new ClasswiseError('ERR_INVALID_ARGUMENT', `--out ${out} is a run folder (it holds ${runFile}); choose a report folder of its own, e.g. ${path.join(run, 'study')}`);
  }
  try {
    fs.mkdirSync(out, { recursive: true });
  } catch (error) {
    throw new ClasswiseError('ERR_IO', `--out ${out} cannot be created (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); choose a writable folder`);
  }
}

async function studyInto(experiments: Experiment[], options: StudyCliOptions, ranks: Awaited<ReturnType<typeof joinRanks>>, out: string): Promise<void> {
  const context = new StudyContext(options);
  const sections: ReportSection[] = [];
  for (const experiment of experiments) {
    log(`${experiment}: running`);
    const started = Date.now();
    sections.push(await section(experiment, context, out));
    log(`${experiment}: done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  const settings: Record<string, string> = { 'run or checkpoint': options.run };
  if (sections.some((s) => !['epochs', 'weight-norm'].includes(s.id))) {
    const { model, meta, run } = await context.model();
    const test = await context.testSet();
    settings.model = `${model.config.architecture}, ${model.numClasses} classes, epoch ${meta.epoch}${run ? `, trained with ${run.method} eps ${run.eps} on ${run.dataset}` : ''}`;
    const perClass = test.classNames.map((_, k) => test.labels.reduce((n, label) => n + (label === k ? 1 : 0), 0));
    const which = isStreamedTestImages(test) ? `every test image, streamed from ${test.source}` : `the study's subset (${test.source})`;
    settings['test examples'] = `${describeCounts(perClass)}: ${which}; sections 1 and 4 use the run's evaluation subset, as their headers say`;
    settings['main attack'] = attackLabel(await context.mainAttack());
    if (run) {
      settings['training run'] =
        `${run.method}${run.method === 'standard' ? '' : ` (training attack ${run.method === 'fgsm-rs' ? 'FGSM-RS' : `PGD-${run.trainSteps}`})`}, ` +
        `${run.trainPerClass ?? 'all'} training images per class, ${run.epochs} epochs, lr ${run.learningRate} ${run.schedule}`;
    }
  }
  settings['robust accuracy'] = ROBUST_DEFINITION;
  const auto = autoFastPath(String(options.device).startsWith('cuda') ? 'cuda' : 'cpu');
  settings['fast path'] = `precision auto -> ${auto.precision}, memory format auto -> ${auto.memoryFormat} (${auto.reason}); AutoAttack runs fp32`;
  settings.protocols = 'docs/study.md in the classwise-at repository';
  const report: StudyReport = { title: `Class-wise robustness study: ${options.run}`, settings, sections };
  if (!ranks.leads) return;
  const written = await writeReport(report, out);
  console.log('');
  console.log(formatFindings(report));
  console.log('');
  console.log(`report: ${written.html}`);
  console.log(`numbers: ${written.json}; ${written.csv.length} CSV files in ${path.join(out, 'csv')}`);
}

function studyOptions(command: Command): Command {
  return addRankOptions(command)
    .requiredOption('--run <dir>', 'run folder written by train (metrics.jsonl, checkpoint.safetensors), or a checkpoint file')
    .option('--best', 'with a run folder: study its best.safetensors (highest mean robust accuracy) instead of the last checkpoint', false)
    .option('--out <dir>', 'report folder (default: <run>/study-<experiment>)')
    .addOption(new Option('--per-class <n|all>', 'test examples per class (default: the run\'s evaluation subset)').argParser(parsePerClass))
    .addOption(new Option('--eps <e>', 'attack budget (default: the run\'s eps)').argParser(parseNumberIn(0, 1e6)))
    .option('--attack <spec>', `main attack, ${ATTACK_SPEC_HELP} (default: the run\'s evaluation attack)`)
    .option('--attacks <list>', 'attacks: attack list, weakest first', 'fgsm,pgd@10,pgd@40')
    .option('--confusion-attacks <list>', 'confusion and removal selection: attacks whose targets are collected; the first gives the matrix (default: the main attack)')
    .addOption(new Option('--seeds <n>', 'runs of each attack with different random starts (confusion, removal)').default(3).argParser(parseInteger(1, 1000)))
    .option('--source <class>', 'removal: source class (default: from the confusion study)')
    .option('--targets <list>', 'removal: target classes to remove (default: from the confusion study)')
    .option('--removal-attacks <list>', 'removal: attacks after retraining (default: main attack, then 5x its steps with 5 restarts)')
    .addOption(new Option('--retrain-per-class <n|all>', 'removal: training examples per class of the retraining (default: the run\'s)').argParser(parsePerClass))
    .addOption(new Option('--retrain-epochs <n>', 'removal: epochs of the retraining (default: the run\'s)').argParser(parseInteger(1, 100000)))
    .option('--fresh', 'removal: recompute the saved stages made with other settings (default: refuse them)', false)
    .option('--compare <list>', 'attacks: other run folders or checkpoints (defenses) to rank against')
    .option('--temperatures <list>', 'temperature: values of T', '0.5,2,5,10')
    .option('--after <dir>', 'mitigation: run folder or checkpoint of the mitigated model')
    .option('--logit-bias <list>', 'mitigation: per-class logit bias at inference, CLASS=VALUE,...')
    .addOption(new Option('--batch-size <n>', 'examples per native batch').default(256).argParser(parseInteger(1, 1 << 20)))
    .addOption(new Option('--seed <n>', 'seed of attack noise and class sampling').default(0).argParser(parseInteger(0, 2 ** 31 - 1)))
    .addOption(new Option('--device <d>', 'auto | cpu | cuda | cuda:N').default('auto').argParser(parseDevice))
    .addOption(new Option('--threads <n>', 'CPU threads (default: all cores)').argParser(parseInteger(1, 1024)))
    .addOption(new Option('--retrain-precision <p>', `removal: the retraining's precision; ${PRECISION_HELP}`).default('auto').argParser(parseChoice(PRECISIONS)))
    .addOption(new Option('--retrain-memory-format <f>', `removal: the retraining's memory format; ${MEMORY_FORMAT_HELP}`).default('auto').argParser(parseChoice(MEMORY_FORMATS)));
}

/** `study all --quick`: fewer test images, seeds, attacks and temperatures, and a one-epoch retraining for the removal. */
export const QUICK_STUDY = {
  perClass: 50,
  seeds: 1,
  attacks: 'fgsm,pgd@10',
  temperatures: '2,10',
  retrainPerClass: 100,
  retrainEpochs: 1,
} as const;

const QUICK_FLAGS: Record<keyof typeof QUICK_STUDY, string> = {
  perClass: '--per-class', seeds: '--seeds', attacks: '--attacks', temperatures: '--temperatures', retrainPerClass: '--retrain-per-class', retrainEpochs: '--retrain-epochs',
};

export function describeQuickPreset(): string {
  return (Object.keys(QUICK_STUDY) as (keyof typeof QUICK_STUDY)[]).map((key) => `${QUICK_FLAGS[key]} ${QUICK_STUDY[key]}`).join(' ');
}

/** Fills every preset setting the command line did not give, and prints the preset. */
function applyQuickPreset(options: StudyCliOptions, command: Command): void {
  const given: string[] = [];
  for (const key of Object.keys(QUICK_STUDY) as (keyof typeof QUICK_STUDY)[]) {
    const source = command.getOptionValueSource(key);
    if (source === 'cli' || source === 'env') {
      given.push(QUICK_FLAGS[key]);
      continue;
    }
    (options as unknown as Record<string, unknown>)[key] = QUICK_STUDY[key];
  }
  log(`quick preset: ${describeQuickPreset()}${given.length ? ` (given instead: ${given.join(', ')})` : ''}`);
}

const DESCRIPTIONS: Record<Experiment, string> = {
  epochs: '1. per-class robust and clean accuracy at every epoch, best-to-worst band, interval histogram',
  confusion: '2. adversarial confusion, top targets per class, per-example target sets over attacks and seeds',
  removal: '3. class removal: select examples, retrain without their target classes, attack them again (resumable)',
  'weight-norm': '4. final-layer row norm vs per-class robustness, Pearson and Spearman with p-values, every epoch',
  attacks: '5. per-class robustness under several attacks, drops, rank consistency across attacks and models',
  temperature: '6. Temperature-PGD sweep per class beside PGD',
  mitigation: '7. worst-class and mean robustness before and after a mitigation',
};

export function studyCommand(): Command {
  const command = new Command('study').description('the class-wise robustness study: one experiment per subcommand, or all; writes an HTML report with JSON and CSV');
  for (const experiment of EXPERIMENTS) {
    command.addCommand(studyOptions(new Command(experiment).description(DESCRIPTIONS[experiment])).action((options: StudyCliOptions) => runStudy([experiment], options)));
  }
  command.addCommand(
    studyOptions(new Command('all').description('every experiment into one report (mitigation when --after or --logit-bias is given)'))
      .action((options: StudyCliOptions, all: Command) => {
        const skip = list(options.skip);
        const unknown = skip.filter((name) => !(EXPERIMENTS as readonly string[]).includes(name));
        if (unknown.length > 0) throw studyError(`--skip: unknown experiment ${unknown.map((name) => `"${name}"`).join(', ')}; accepted: ${EXPERIMENTS.join(', ')}`, 'ERR_INVALID_ARGUMENT');
        if (options.quick) applyQuickPreset(options, all);
        const chosen = EXPERIMENTS.filter((e) => !skip.includes(e))
          .filter((e) => e !== 'mitigation' || options.after || options.logitBias);
        return runStudy(chosen, options);
      })
      .option('--skip <list>', `experiments to leave out: ${EXPERIMENTS.join(', ')}`)
      .option('--quick', `a preset of small settings (about a minute on 2 cores for the default run): ${describeQuickPreset()}; options given beside it win`, false),
  );
  command.addCommand(fairnessCommand());
  command.addCommand(
    new Command('render')
      .description('redraw a report from report.json files without running the model (sections of later files replace earlier ones)')
      .requiredOption('--from <list>', 'report.json files, comma-separated')
      .requiredOption('--out <dir>', 'report folder')
      .action(async (options: { from: string; out: string }) => {
        const report = reportFromJson(list(options.from));
        const written = await writeReport(report, options.out);
        console.log(formatFindings(report));
        console.log(`\nreport: ${written.html}`);
        console.log(`numbers: ${written.json}; ${written.csv.length} CSV files in ${path.join(options.out, 'csv')}`);
      }),
  );
  return command;
}
