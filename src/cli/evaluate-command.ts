/** `classwise-at evaluate`: load a checkpoint, attack the test set, print the per-class table. */
import { Command, Option } from 'commander';

import { ATTACK_KINDS, AttackOptions, ENSEMBLE_STAGES, EnsembleStage } from '../attack';
import { randomnessWarning } from '../attack-checks';
import { DATASET_NAMES, DatasetError, isDatasetName } from '../data/index';
import { takeFirst } from '../data/subset';
import { ClasswiseError, invalidArgument } from '../errors';
import { parseClassValues } from '../train/mitigation';
import { evaluate, evaluateStream } from '../evaluate';
import { decodeBatch } from '../data/imagenet';
import type { NativeImageSet } from '../data/native-dataset';
import { isStreamedDataset, skipWarnings, streamRunTestSet } from '../run/data';
import { DeviceName, Model } from '../model';
import { nativeAddon, NativeProgress } from '../native';
import { RECIPES } from '../recipes';
import { formatClassTable } from '../report/class-table';
import { ATTACK_SPEC_HELP, checkpointPath, classRows, loadRunTestSet, normalizeAttackSpec, parseAttackSpec, RunConfig, checkOutputFile } from '../run';
import { AUTOATTACK_FP32_NOTE, autoAttackPrecision, MEMORY_FORMATS, PRECISIONS } from '../fast-path';
import { collapsedClassWarnings } from '../collapsed-classes';
import { checkDatasetMatch } from '../dataset-match';
import { cpuLoadNote } from './cpu-load';
import { fastPathHeader } from './fast-path-header';
import { MEMORY_FORMAT_HELP, parseChoice, parseDevice, parseInteger, parseNumberIn, parsePerClass, perClassValue, PRECISION_HELP } from './parse';
import { ProgressLine } from './progress';
import { refuseIgnoredAttackOptions } from './ignored-options';
import { addRankOptions, joinRanks } from './ranks';
import { writeFileAtomic } from '../checkpoint';
import { collectFiles } from './train-command';

export function evaluateCommand(): Command {
  return addRankOptions(new Command('evaluate'))
    .description('load a checkpoint or a TorchScript model, run an attack on the test set and print per-class clean and robust accuracy')
    .option('--checkpoint <file|run>', 'a checkpoint written by train (checkpoint.safetensors, best.safetensors) or a run folder')
    .option('--best', 'with a run folder: its best.safetensors (highest robust accuracy) instead of the last checkpoint', false)
    .option('--model <file.pt>', 'any PyTorch classifier saved with torch.jit.save (images in [0,1] in, logits out); needs --dataset')
    .option('--logit-bias <list>', 'mitigation at inference: bias per class added to the logits, "name=b,index=b" (others 0)')
    .option('--attack <spec>', `attack: ${ATTACK_SPEC_HELP} with KIND one of ${ATTACK_KINDS.join(', ')}; or none`, 'pgd')
    .addOption(new Option('--temperature <T>', 'tpgd: logits are divided by T (1 = PGD)').argParser(parseNumberIn(1e-6, 1e6)))
    .addOption(new Option('--queries <n>', 'square / autoattack: queries per example (default 5000)').argParser(parseInteger(1, 10000000)))
    .addOption(new Option('--target-classes <n>', 'apgd-t / autoattack: top other classes targeted (default 9)').argParser(parseInteger(1, 100000)))
    .option('--ensemble <stages>', `autoattack: comma-separated stages among ${ENSEMBLE_STAGES.join(', ')} (default: all)`)
    .addOption(new Option('--norm <norm>', 'threat model: linf, l2').default('linf').argParser(parseChoice(['linf', 'l2'] as const)))
    .addOption(new Option('--eps <e>', 'budget in pixel units (default: the checkpoint run\'s eps)').argParser(parseNumberIn(0, 1e6)))
    .addOption(new Option('--steps <n>', 'attack steps (default: 20 for pgd/cw/tpgd, 100 for APGD)').argParser(parseInteger(1, 100000)))
    .addOption(new Option('--step-size <s>', 'attack step (default 2.5*eps/steps; eps for fgsm)').argParser(parseNumberIn(0, 1e6)))
    .addOption(new Option('--restarts <n>', 'random restarts, worst case kept per example').default(1).argParser(parseInteger(1, 1000)))
    .option('--dataset <name>', 'dataset (default: the one the checkpoint was trained on)')
    .option('--data-dir <dir>', 'dataset folder (default: the checkpoint run\'s)')
    .option('--data-pack <file>', 'imagenet: a packed val split (classwise-at pack) read instead of the folder (default: DIR/imagenet-val.cwpack when present)', collectFiles, [])
    .addOption(new Option('--per-class <n|all>', 'test examples per class (all: an ImageNet val split streams batch by batch; N: that subset decoded into memory)').default(null, 'all').argParser(parsePerClass))
    .addOption(new Option('--batch-size <n>', 'examples per native batch').default(256).argParser(parseInteger(1, 1 << 20)))
    .addOption(new Option('--seed <n>', 'seed of the attack noise and subset').default(0).argParser(parseInteger(0, 2 ** 31 - 1)))
    .addOption(new Option('--device <d>', 'auto | cpu | cuda | cuda:N').default('auto').argParser(parseDevice))
    .addOption(new Option('--threads <n>', 'CPU threads (default: all cores)').argParser(parseInteger(1, 1024)))
    .addOption(new Option('--precision <p>', PRECISION_HELP).default('auto').argParser(parseChoice(PRECISIONS)))
    .addOption(new Option('--memory-format <f>', MEMORY_FORMAT_HELP).default('auto').argParser(parseChoice(MEMORY_FORMATS)))
    .option('--allow-dataset-mismatch', 'evaluate on another dataset (class names, input shape) than the checkpoint was trained on, deliberately', false)
    .option('--json <file>', 'also write the full per-class result (confusion matrices included) as JSON')
    .option('--force', '--json may replace an existing file that is not an evaluation result', false)
    .action(async (options, command: Command) => {
      if (!options.checkpoint === !options.model) {
        throw invalidArgument('give exactly one of --checkpoint (a classwise-at checkpoint) or --model (a TorchScript file)');
      }
      if (options.model && !options.dataset) {
        throw invalidArgument('--model needs --dataset (the test images and class names to use), e.g. --dataset fashion-mnist');
      }
      // Refused before any work, not after the evaluation ran.
      refuseIgnoredAttackOptions(command, normalizeAttackSpec(String(options.attack)));
      const checkpoint = options.checkpoint ? checkpointPath(options.checkpoint, options.best ? 'best' : 'last') : undefined;
      if (options.json) {
        checkOutputFile(options.json, '--json', { inputs: [checkpoint ?? options.model], isOwnKind: isEvaluationJson, force: options.force });
      }
      // Under a launcher each rank attacks its share of the batches; rank 0 prints and writes the summed result.
      const ranks = await joinRanks(options);
      const log = ranks.leads ? (line: string) => console.log(line) : () => undefined;
      const device = ranks.device as DeviceName;
      const loaded = checkpoint ? await Model.load(checkpoint, { device }) : undefined;
      const run = (loaded?.meta.config.run ?? {}) as Partial<RunConfig>;
      const dataset: string = options.dataset ?? run.dataset ?? 'fashion-mnist';
      if (!isDatasetName(dataset)) throw new DatasetError('ERR_DATASET_UNKNOWN', `--dataset is "${dataset}"; accepted: ${DATASET_NAMES.join(', ')}`);
      // The run's class subset, CIFAR-100 labels and image size apply, so the table matches the model's classes.
      const settings = { ...run, dataset, dataDir: options.dataDir ?? run.dataDir, dataPacks: options.dataPack.length > 0 ? options.dataPack : run.dataPacks } as RunConfig;
      const perClass = perClassValue(options.perClass) ?? null;
      // The whole ImageNet val split streams batch by batch (memory: the chunks prefetched); --per-class N decodes
      // its subset into memory. A chunk holds one batch per rank, as each rank attacks its own batch of a call.
      const streamed = perClass === null && isStreamedDataset(settings)
        ? streamRunTestSet(settings, options.batchSize * (ranks.group?.worldSize ?? 1), skipWarnings(log))
        : undefined;
      const test = streamed
        ? { name: dataset, classNames: streamed.data.classNames, shape: streamed.data.shape, count: streamed.data.count, source: streamed.data.source }
        : await loadRunTestSet(settings, perClass, options.seed + 1);
      if (streamed) log(`data: ${test.count} ${dataset} test images streamed from ${test.source}`);
      let model: Model;
      if (loaded) {
        model = loaded.model;
        log(`checkpoint ${checkpoint}: ${model.config.architecture}, epoch ${loaded.meta.epoch}, trained with ${run.method ?? '?'} eps ${run.eps ?? '?'}`);
      } else {
        model = Model.loadTorchScript(options.model, { inputShape: test.shape, classNames: test.classNames, device });
        log(`TorchScript model ${options.model}: ${model.numClasses} classes, input ${test.shape.join('x')}, device ${model.info.device}`);
      }
      checkDatasetMatch(model, test, options.allowDatasetMismatch, '--allow-dataset-mismatch');
      const eps: number = options.eps ?? run.eps ?? RECIPES[dataset as 'mnist']?.eps ?? 0.1;
      if (options.norm === 'linf' && eps > 1) {
        throw new ClasswiseError('ERR_OUT_OF_RANGE', `--eps ${eps} is above 1 for --norm linf; pixels are in [0,1] (e.g. --eps 8/255)`);
      }
      const attack = attackFromOptions(options, eps);
      const precision = attack?.kind === 'autoattack' ? autoAttackPrecision(options.precision) : options.precision;
      log(fastPathHeader(nativeAddon().runtimeInfo(), model.info.device, precision, options.memoryFormat));
      if (precision !== options.precision) log(`note: ${AUTOATTACK_FP32_NOTE}`);
      const busy = model.info.device === 'cpu' ? cpuLoadNote(nativeAddon().runtimeInfo().threads) : undefined;
      if (busy) log(busy);
      const bar = ranks.leads ? new ProgressLine('evaluate') : undefined;
      const logitBias = options.logitBias ? parseClassValues(options.logitBias, model.config.classNames, 0, '--logit-bias', [-1e6, 1e6]) : undefined;
      if (logitBias) log(`logit bias at inference (mitigation, ours): ${logitBias.join(' ')}`);
      const parallel = ranks.describe();
      if (parallel) log(`${parallel}; rank r attacks batches r, r + ${ranks.group!.worldSize}, ... of ${options.batchSize}`);
      const evaluateOptions = {
        allowDatasetMismatch: options.allowDatasetMismatch, attack, batchSize: options.batchSize, seed: options.seed, logitBias, precision, memoryFormat: options.memoryFormat,
        processGroup: ranks.group, onProgress: bar && ((p: NativeProgress) => bar.update(p)),
      };
      const result = streamed ? await evaluateStream(model, test, streamed.chunks, evaluateOptions) : await evaluate(model, test as NativeImageSet, evaluateOptions);
      bar?.stop();
      if (!ranks.leads) return;
      console.log(formatClassTable(classRows(result), { title: `per-class accuracy on ${result.counts.reduce((a, b) => a + b, 0)} ${dataset} test images (${result.seconds.toFixed(1)} s, ${result.precision}, ${result.memoryFormat})`, attackLabel: result.attackLabel }));
      for (const warning of collapsedClassWarnings(result.classNames, result.cleanConfusion)) console.log(`warning: ${warning}`);
      if (result.ensemble) {
        const { attacksRun, attacksMissing, nonStandard, standard, brokenPerClass } = result.ensemble;
        const why = [...(attacksMissing.length ? [`missing: ${attacksMissing.join(', ')}`] : []), ...nonStandard];
        console.log(`ensemble: ran ${attacksRun.join(' -> ')}; ` + (standard ? 'the standard AutoAttack' : `NOT the standard AutoAttack (${why.join('; ')})`));
        console.log(`examples first broken by each stage, per class: ` +
          result.classNames.map((name, k) => `${name} ${brokenPerClass[k].join('/')}`).join(', ') + ` (${attacksRun.join('/')})`);
        for (const warning of ensembleWarnings(result)) console.log(`warning: ${warning}`);
        const first = Math.min(test.count, 256);
        const sample = streamed ? await decodeBatch(streamed.data, Int32Array.from({ length: first }, (_, i) => i), { augment: false, onDecodeError: settings.onDecodeError }) : takeFirst(test as NativeImageSet, first);
        const randomness = await randomnessWarning(model, sample);
        if (randomness) console.log(`warning: ${randomness}`);
      }
      if (options.json) {
        const { cleanPredictions, adversarialPredictions, ...rest } = result;
        writeFileAtomic(options.json, JSON.stringify({ ...rest, cleanPredictions: Array.from(cleanPredictions), adversarialPredictions: Array.from(adversarialPredictions) }, null, 1));
        console.log(`wrote ${options.json}`);
      }
    });
}

/** What evaluate --json writes: an object with the class names and the attack label. */
function isEvaluationJson(bytes: Buffer): boolean {
  const parsed = JSON.parse(bytes.toString('utf8')) as { classNames?: unknown; attackLabel?: unknown };
  return Array.isArray(parsed?.classNames) && typeof parsed.attackLabel === 'string';
}

/**
 * The attack described by the command line: --attack KIND[@STEPS][xRESTARTS] (the run layer's one parser), the
 * other attack options beside it. PGD-family attacks default to 20 steps here (the library's default is 10).
 */
export function attackFromOptions(options: Record<string, unknown>, eps: number): AttackOptions | null {
  const spec = String(options.attack ?? 'pgd');
  if (spec === 'none') return null;
  const fields: Omit<AttackOptions, 'kind'> = { norm: options.norm as AttackOptions['norm'], eps };
  if (options.stepSize !== undefined) fields.stepSize = options.stepSize as number;
  if (options.temperature !== undefined) fields.temperature = options.temperature as number;
  if (options.queries !== undefined) fields.queries = options.queries as number;
  if (options.targetClasses !== undefined) fields.targetClasses = options.targetClasses as number;
  if (options.ensemble !== undefined) fields.attacks = String(options.ensemble).split(',').map((s) => s.trim()) as EnsembleStage[];
  const attack = parseAttackSpec(spec, fields, '--attack');
  const pgdFamily = ['fgsm', 'pgd', 'cw', 'tpgd'].includes(attack.kind);
  attack.steps ??= (options.steps as number | undefined) ?? (pgdFamily ? 20 : undefined);
  if (attack.restarts === undefined && (options.restarts as number) > 1) attack.restarts = options.restarts as number;
  if (attack.steps === undefined) delete attack.steps;
  return attack;
}

/**
 * AutoAttack's own checks that hint at gradient masking, on one ensemble result: the black-box Square
 * stage breaking points that the white-box APGD stages left robust.
 */
export function ensembleWarnings(result: import('../evaluate').ClassEvaluation): string[] {
  const warnings: string[] = [];
  const ensemble = result.ensemble;
  if (!ensemble) return warnings;
  const squareColumn = ensemble.attacksRun.indexOf('square');
  const whiteBox = ensemble.attacksRun.filter((stage) => stage !== 'square');
  if (squareColumn >= 0 && whiteBox.length > 0) {
    const bySquare = ensemble.brokenPerClass.reduce((sum, row) => sum + row[squareColumn], 0);
    const total = result.counts.reduce((a, b) => a + b, 0);
    if (bySquare > 0) {
      warnings.push(`the black-box Square attack lowered robust accuracy by ${(100 * bySquare / total).toFixed(2)} points after ` +
        `${whiteBox.join(' and ')}: the gradient-based attacks may be weakened by gradient masking; trust the ensemble's number`);
    }
  }
  return warnings;
}
