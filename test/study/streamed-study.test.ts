/**
 * The study on every test image of an ImageNet val folder streams it chunk by chunk (study/test-images.ts) instead of
 * decoding it into memory, and gives exactly the numbers of the same images in memory: confusion, attack strength,
 * fairness and class removal, with attacks without random starts and chunks smaller than the set.
 */
import { spawnSync } from 'child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { evaluate, Model, RunConfig } from '../../src';
import { loadIntoNative } from '../../src/data/native-dataset';
import { restrictToClasses, selectExamples } from '../../src/data/subset';
import { loadRunTestSet } from '../../src/run/data';
import { attackStrength } from '../../src/study/attack-strength';
import { classRemoval } from '../../src/study/class-removal';
import { adversarialConfusion, targetStatistics } from '../../src/study/confusion';
import { fairnessStudy } from '../../src/study/fairness';
import { mitigationComparison } from '../../src/study/mitigation';
import { temperatureSweep } from '../../src/study/temperature';
import { isStreamedTestImages, loadTestImages } from '../../src/study/test-images';
import { makeTempFolder } from '../data/idx-fixtures';
import { seededSmallCnn, writeColourJpegs } from '../helpers/imagenet-fixture';
import { watchNativeCalls } from '../helpers/native-calls';

const root = path.resolve(__dirname, '../..');
const CLASSES = ['n01', 'n02', 'n03'];
const VAL_PER_CLASS = 12;
const TRAIN_PER_CLASS = 6;
// 36 test images in chunks of one batch of 8: five chunks, the last one short.
const BATCH = 8;
const FGSM = { kind: 'fgsm' as const, eps: 4 / 255 };
const PGD = { kind: 'pgd' as const, eps: 4 / 255, steps: 2, randomStart: false };
let temp: ReturnType<typeof makeTempFolder>;
let runDir: string;
let config: RunConfig;

/** Every native evaluate() call of a model: whether it was given a handle or a chunk of images, and its size. */
function watchEvaluations(model: Model): { keys: string[]; images: number }[] {
  const calls: { keys: string[]; images: number }[] = [];
  watchNativeCalls(model, (method, args) => {
    if (method !== 'evaluate') return;
    const data = args[0] as { images?: Uint8Array; labels?: Int32Array };
    calls.push({ keys: Object.keys(data), images: data.labels?.length ?? -1 });
  });
  return calls;
}

beforeAll(async () => {
  temp = makeTempFolder();
  await writeColourJpegs(temp.folder, 'val', CLASSES, VAL_PER_CLASS);
  await writeColourJpegs(temp.folder, 'train', CLASSES, TRAIN_PER_CLASS, 20);
  config = {
    dataset: 'imagenet', dataDir: temp.folder, imageSize: 32, onDecodeError: 'fail', architecture: 'smallcnn',
    method: 'pgd', epochs: 1, batchSize: BATCH, learningRate: 0.05, schedule: 'constant', momentum: 0.9, weightDecay: 5e-4, nesterov: false,
    seed: 0, eps: 4 / 255, trainSteps: 1, trainStepSize: 4 / 255, evalSteps: 2, evalStepSize: 2 / 255, evalRestarts: 1, trainPerClass: null, evalPerClass: null,
  };
  runDir = path.join(temp.folder, 'run');
  fs.mkdirSync(runDir);
  const classNames = (await loadRunTestSet(config, 1, 0)).classNames;
  await (await seededSmallCnn(classNames)).save(path.join(runDir, 'checkpoint.safetensors'), { epoch: 1, config: { run: config } });
}, 60_000);
afterAll(() => temp.remove());

async function load(): Promise<{ model: Model; streamed: Awaited<ReturnType<typeof loadTestImages>>; inMemory: Awaited<ReturnType<typeof loadRunTestSet>> }> {
  const { model } = await Model.load(path.join(runDir, 'checkpoint.safetensors'), { device: 'cpu' });
  return { model, streamed: await loadTestImages(config, null, 1), inMemory: await loadRunTestSet(config, null, 1) };
}

test('with every test image, an ImageNet set streams; with N per class it is decoded into memory', async () => {
  const { streamed } = await load();
  expect(isStreamedTestImages(streamed)).toBe(true);
  expect('images' in streamed).toBe(false);
  expect(streamed.count).toBe(CLASSES.length * VAL_PER_CLASS);
  const subset = await loadTestImages(config, 4, 1);
  expect(isStreamedTestImages(subset)).toBe(false);
  expect(subset.count).toBe(CLASSES.length * 4);
});

test('confusion: streamed chunk by chunk, the study equals the in-memory one exactly', async () => {
  const { model, streamed, inMemory } = await load();
  const options = { attacks: [FGSM, PGD], seeds: 2, seed: 3, batchSize: BATCH };
  const calls = watchEvaluations(model);
  const fromStream = await adversarialConfusion(model, streamed, options);
  // One clean pass and 2 attacks x 2 seeds, each over five chunks of at most one batch, handed over as images.
  expect(calls).toHaveLength(5 * 5);
  calls.forEach((call, i) => expect(call).toEqual({ keys: ['images', 'labels'], images: i % 5 === 4 ? 4 : BATCH }));
  calls.length = 0;
  const fromMemory = await adversarialConfusion(model, inMemory, options);
  expect(calls).toEqual(Array(5).fill({ keys: ['dataset'], images: -1 }));
  expect(fromStream).toEqual(fromMemory);
  // Not a trivial agreement: the model predicts more than one class and the attacks break some examples.
  expect(new Set(fromMemory.confusion.flatMap((row, k) => row.flatMap((count, j) => (count > 0 ? [j] : [])))).size).toBeGreaterThan(1);
  expect(fromMemory.targetSets.some((set) => set.length > 0)).toBe(true);
});

test('attack strength: streamed equals in memory exactly', async () => {
  const { model, streamed, inMemory } = await load();
  const options = { attacks: [FGSM, PGD], seed: 0, batchSize: BATCH };
  const models = [{ label: 'run', model }];
  expect(await attackStrength(models, streamed, options)).toEqual(await attackStrength(models, inMemory, options));
});

test('temperature and mitigation: streamed equal in memory exactly', async () => {
  const { model, streamed, inMemory } = await load();
  const sweep = { base: PGD, temperatures: [0.5, 4], seed: 0, batchSize: BATCH };
  expect(await temperatureSweep(model, streamed, sweep)).toEqual(await temperatureSweep(model, inMemory, sweep));
  const before = { label: 'before', model };
  const after = { label: 'after', model, logitBias: [0.5, 0, -0.5] };
  const options = { attack: PGD, mitigation: 'a logit bias', seed: 0 };
  expect(await mitigationComparison(before, after, streamed, options)).toEqual(await mitigationComparison(before, after, inMemory, options));
});

test('study fairness on every image of an ImageNet run streams, and its numbers equal evaluate() in memory', async () => {
  const { model, inMemory } = await load();
  const stages: string[] = [];
  const study = await fairnessStudy({ runs: [runDir], attacks: [PGD], perClass: null, batchSize: BATCH, device: 'cpu', onStage: (text) => stages.push(text) });
  expect(stages[0]).toBe(`test set: ${inMemory.count} imagenet test images streamed from ${inMemory.source}`);
  const reference = await evaluate(model, inMemory, { attack: PGD, seed: 0, batchSize: BATCH });
  expect(study.testCount).toBe(inMemory.count);
  expect(study.runs).toHaveLength(1);
  expect(study.runs[0].cleanAccuracy).toEqual(reference.cleanAccuracy);
  expect(study.runs[0].robustAccuracy).toEqual(reference.robustAccuracy);
});

test('class removal streams the test set: its numbers equal evaluate() of the same checkpoints on the images in memory', async () => {
  const { model: full, inMemory } = await load();
  // A confusion study in which every example of class 0 only ever went to class 1 fixes the selection without attacks.
  const runs = [Int32Array.from(inMemory.labels, (label) => (label === 0 ? 1 : label))];
  const confusion = { classNames: inMemory.classNames, attacks: ['given'], seeds: 1, ...targetStatistics(inMemory.labels, runs, 3) };
  const lines: string[] = [];
  const out = path.join(temp.folder, 'removal');
  const result = await classRemoval({
    model: runDir, out, source: 0, targets: [1], confusion, selectionAttacks: [], removalAttacks: [PGD], batchSize: BATCH, device: 'cpu', testPerClass: null,
    log: (text) => lines.push(text),
  });
  expect(lines).toContain(`test set: ${inMemory.count} imagenet test images streamed from ${inMemory.source}`);
  expect(result.selection.selected).toEqual(Array.from(inMemory.labels.keys()).filter((i) => inMemory.labels[i] === 0));
  const { model: retrained } = await Model.load(path.join(out, 'retrain', 'checkpoint.safetensors'), { device: 'cpu' });
  const kept = [0, 2];
  const onKept = await evaluate(retrained, loadIntoNative(restrictToClasses(inMemory, kept)), { attack: PGD, batchSize: BATCH });
  expect([result.retrain.clean, result.retrain.robust]).toEqual([onKept.overall.clean, onKept.overall.robust]);
  const keptIndices = Array.from(inMemory.labels.keys()).filter((i) => kept.includes(inMemory.labels[i]));
  const fullOnKept = await evaluate(full, loadIntoNative(selectExamples(inMemory, keptIndices, 'kept')), { attack: PGD, batchSize: BATCH });
  expect(result.retrain.fullOnKept).toEqual({ clean: fullOnKept.overall.clean, robust: fullOnKept.overall.robust });
  const selected = selectExamples(inMemory, result.selection.selected, 'selected');
  const onSelected = await evaluate(retrained, loadIntoNative({ ...selected, labels: new Int32Array(selected.count).fill(0), classNames: retrained.config.classNames }), { attack: PGD, batchSize: BATCH });
  expect(result.attacks[0].selected.stillCorrect).toBe(onSelected.adversarialConfusion[0][0]);
  expect(result.attacks[0].selected.count).toBe(VAL_PER_CLASS);
}, 60_000);

test('a file skipped while streaming is reported once however often the set is read; the confusion study, which follows images by position, refuses it', async () => {
  const { model } = await load();
  const dataDir = path.join(temp.folder, 'with-broken-file');
  fs.cpSync(path.join(temp.folder, 'val'), path.join(dataDir, 'val'), { recursive: true });
  const broken = path.join(dataDir, 'val', 'n02', 'broken.JPEG');
  fs.writeFileSync(broken, 'not a JPEG');
  const skipped: string[] = [];
  const streamed = await loadTestImages({ ...config, dataDir, onDecodeError: 'skip' }, null, 1, (file) => skipped.push(file));
  expect(streamed.count).toBe(CLASSES.length * VAL_PER_CLASS + 1);
  // Two attacks: the set is decoded twice, the file named once; the counts leave it out.
  const strength = await attackStrength([{ label: 'run', model }], streamed, { attacks: [FGSM, PGD], batchSize: BATCH });
  expect(skipped).toEqual([broken]);
  expect(strength.counts).toEqual(CLASSES.map(() => VAL_PER_CLASS));
  await expect(adversarialConfusion(model, streamed, { attacks: [FGSM], seeds: 1, batchSize: BATCH })).rejects.toThrow(
    `1 of the ${streamed.count} test images of ${streamed.source} could not be decoded (the warnings name them); the confusion study follows each image through every attack: ` +
      'remove or replace those files, or pass --per-class N to study a subset decoded into memory');
});

test('the CLI study on --per-class all says it streams, and its confusion equals the in-memory study', async () => {
  const { model, inMemory } = await load();
  const out = path.join(temp.folder, 'study-cli');
  const result = spawnSync(process.execPath, [
    'dist/cli/main.js', 'study', 'confusion', '--run', runDir, '--per-class', 'all', '--attack', 'fgsm', '--eps', String(4 / 255), '--seeds', '1', '--batch-size', String(BATCH), '--device', 'cpu', '--out', out,
  ], { cwd: root, encoding: 'utf8' });
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  expect(result.stdout).toContain(`[study] data: ${inMemory.count} imagenet test images streamed from ${inMemory.source}`);
  const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8'));
  expect(report.settings['test examples']).toMatch(/: every test image, streamed from /);
  const reference = await adversarialConfusion(model, inMemory, { attacks: [FGSM], seeds: 1, seed: 0, batchSize: BATCH });
  const saved = report.sections[0].data;
  expect(saved.confusion).toEqual(reference.confusion);
  expect(saved.targetSets).toEqual(reference.targetSets);
  expect(saved.robustAccuracy).toEqual(reference.robustAccuracy);
}, 60_000);
