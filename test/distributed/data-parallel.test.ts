/**
 * Data parallelism on c10d's Gloo backend: two ranks on 127.0.0.1 (one CPU thread each) against one process
 * with the same global batch. Each rank is a child process running test/helpers/distributed-rank.js over dist/.
 */
import { ChildProcess, spawn } from 'child_process';
import fs from 'fs';
import net from 'net';
import os from 'os';
import path from 'path';
import readline from 'readline';

import { evaluate, loadMnistSample, Model, ProcessGroup, setThreads, takeFirst, train } from '../../src';
import { freePort } from '../../src/distributed/launch';
import { TensorMap } from '../../src/checkpoint';

const root = path.resolve(__dirname, '..', '..');
const rankScript = path.join(root, 'test', 'helpers', 'distributed-rank.js');
const TRAIN_COUNT = 128;
const GLOBAL_BATCH = 32;
/**
 * 1 process vs 2 ranks after 4 PGD-AT steps, float32. The ranks compute the same per-example input gradients,
 * so the attacks agree; the weight gradient is summed in another order (two half-batch sums of 16 added, against
 * one sum of 32), which changes its last bits (float32 epsilon 1.2e-7 relative); four SGD steps at lr 0.05 with
 * momentum carry that to at most a few 1e-7 in weights of magnitude up to ~0.5. 1e-5 leaves room for one sign of
 * an input gradient flipping in a later PGD step (a pixel moving by 2 step sizes), which would show as ~1e-6.
 */
const PARAMETER_TOLERANCE = 1e-5;

interface RankRun {
  child: ChildProcess;
  events: Record<string, unknown>[];
  stderr: string;
  /** Resolves with the first event of that name. */
  waitFor(event: string): Promise<Record<string, unknown>>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startRank(job: Record<string, unknown>, rank: number, worldSize: number, port: number): RankRun {
  const env = { ...process.env, RANK: String(rank), WORLD_SIZE: String(worldSize), LOCAL_RANK: String(rank), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) };
  const child = spawn(process.execPath, [rankScript, JSON.stringify(job)], { env, cwd: root });
  const events: Record<string, unknown>[] = [];
  const waiting: { name: string; resolve: (e: Record<string, unknown>) => void }[] = [];
  const run: RankRun = {
    child,
    events,
    stderr: '',
    waitFor: (name) => {
      const seen = events.find((e) => e.event === name);
      return seen ? Promise.resolve(seen) : new Promise((resolve) => waiting.push({ name, resolve }));
    },
    exit: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
  };
  readline.createInterface({ input: child.stdout! }).on('line', (line) => {
    const event = JSON.parse(line) as Record<string, unknown>;
    events.push(event);
    for (const w of waiting.filter((w) => w.name === event.event)) w.resolve(event);
  });
  child.stderr!.on('data', (chunk) => (run.stderr += chunk));
  return run;
}

async function startRanks(job: Record<string, unknown>, worldSize = 2): Promise<RankRun[]> {
  const port = await freePort();
  return Array.from({ length: worldSize }, (_, rank) => startRank(job, rank, worldSize, port));
}

async function finish(ranks: RankRun[]): Promise<void> {
  const exits = await Promise.all(ranks.map((r) => r.exit));
  exits.forEach((exit, rank) => {
    if (exit.code !== 0) throw new Error(`rank ${rank} exited with ${exit.code ?? exit.signal}: ${ranks[rank].stderr}`);
  });
}

function floats(tensor: TensorMap[string]): Float32Array {
  const copy = Uint8Array.from(tensor.data);
  return new Float32Array(copy.buffer);
}

function maxDifference(a: TensorMap, b: TensorMap): { max: number; name: string } {
  let worst = { max: 0, name: '' };
  for (const name of Object.keys(a)) {
    if (a[name].dtype !== 'F32') continue;
    const x = floats(a[name]);
    const y = floats(b[name]);
    for (let i = 0; i < x.length; i++) {
      const d = Math.abs(x[i] - y[i]);
      if (!(d <= worst.max)) worst = { max: d, name };
    }
  }
  return worst;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'classwise-dp-'));
const referenceCheckpoint = path.join(tmp, 'one-process.safetensors');
const trainJob = { kind: 'train', count: TRAIN_COUNT, batchSize: GLOBAL_BATCH, steps: 3, epochs: 1, lr: 0.05 };

beforeAll(() => setThreads(1));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('SmallCNN after 4 PGD-AT steps on 2 ranks equals one process with the same global batch', async () => {
  const data = takeFirst(loadMnistSample('train'), TRAIN_COUNT);
  const model = Model.create({ architecture: 'smallcnn', inputShape: data.shape, classNames: data.classNames, mean: [0.5], std: [0.5], device: 'cpu', seed: 1 });
  await train(model, data, { method: 'pgd', epochs: 1, schedule: { kind: 'constant', lr: 0.05 }, attack: { kind: 'pgd', eps: 0.3, steps: 3 }, batchSize: GLOBAL_BATCH, seed: 3, precision: 'fp32', memoryFormat: 'contiguous' });
  await model.save(referenceCheckpoint);

  const twoRanks = path.join(tmp, 'two-ranks.safetensors');
  const ranks = await startRanks({ ...trainJob, save: twoRanks });
  await finish(ranks);
  const reference = await model.state();
  const parallel = (await Model.load(twoRanks, { device: 'cpu' })).model;
  const difference = maxDifference(reference, await parallel.state());
  console.log(`1 process vs 2 ranks, max |difference| over weights and momentum: ${difference.max} (${difference.name})`);
  expect(difference.max).toBeLessThanOrEqual(PARAMETER_TOLERANCE);
  // The training moved the weights far more than the tolerance: the comparison is not vacuous.
  const start = Model.create({ architecture: 'smallcnn', inputShape: data.shape, classNames: data.classNames, mean: [0.5], std: [0.5], device: 'cpu', seed: 1 });
  expect(maxDifference(reference, await start.state()).max).toBeGreaterThan(1000 * PARAMETER_TOLERANCE);
});

test('a sharded evaluation returns the one-process counts, confusion matrices and predictions exactly', async () => {
  const count = 300; // 5 batches of 64: rank 0 attacks batches 0, 2, 4 and rank 1 batches 1, 3
  const model = (await Model.load(referenceCheckpoint, { device: 'cpu' })).model;
  const one = await evaluate(model, takeFirst(loadMnistSample('test'), count), { attack: { kind: 'pgd', eps: 0.3, steps: 5 }, batchSize: 64, seed: 11, precision: 'fp32', memoryFormat: 'contiguous' });
  const ranks = await startRanks({ kind: 'evaluate', checkpoint: referenceCheckpoint, count, batchSize: 64 });
  await finish(ranks);
  for (const run of ranks) {
    const result = run.events.find((e) => e.event === 'evaluation')!;
    expect(result.counts).toEqual(one.counts);
    expect(result.cleanConfusion).toEqual(one.cleanConfusion);
    expect(result.adversarialConfusion).toEqual(one.adversarialConfusion);
    expect(result.cleanPredictions).toEqual(Array.from(one.cleanPredictions));
    expect(result.adversarialPredictions).toEqual(Array.from(one.adversarialPredictions));
    // Sums of doubles over the ranks: equal up to the order of addition.
    (result.meanLoss as number[]).forEach((v, k) => expect(v).toBeCloseTo(one.meanLoss[k], 10));
    (result.meanGradientNorm as number[]).forEach((v, k) => expect(v).toBeCloseTo(one.meanGradientNorm[k], 10));
  }
  const robust = one.adversarialConfusion.reduce((sum, row, k) => sum + row[k], 0);
  console.log(`evaluation of ${count} digits, PGD-5: counts ${one.counts.join(' ')}; robust ${robust}/${count} on 1 process and on 2 ranks`);
});

test('PreActResNet-18 trains on 2 ranks: BatchNorm statistics are per rank until rank 0\'s are broadcast', async () => {
  const ranks = await startRanks({ kind: 'batchnorm', architecture: 'preact-resnet18', data: 'synthetic', count: 32, batchSize: 16 });
  await finish(ranks);
  const [zero, one] = ranks.map((r) => r.events.find((e) => e.event === 'batchnorm')!) as { loss: number; seen: number; before: Record<string, number>; after: Record<string, number>; weightsBefore: Record<string, number> }[];
  expect(Number.isFinite(zero.loss)).toBe(true);
  expect(zero.seen).toBe(32);
  // Weights follow the all-reduced gradients: identical on both ranks.
  expect(one.weightsBefore).toEqual(zero.weightsBefore);
  // Each rank normalised its own 8 images per step: its running statistics are its own...
  expect(one.before).not.toEqual(zero.before);
  // ...until every rank takes rank 0's, before evaluating and saving.
  expect(one.after).toEqual(zero.before);
  expect(zero.after).toEqual(zero.before);
});

test('a rank killed with SIGKILL stops the others with an error naming it', async () => {
  const ranks = await startRanks({ kind: 'train', count: 256, batchSize: 32, steps: 1, epochs: 4, timeoutSeconds: 60 });
  await ranks[1].waitFor('epoch');
  ranks[1].child.kill('SIGKILL');
  const exit = await ranks[0].exit;
  console.log(`rank 0 after rank 1 was killed (exit code ${exit.code}):\n${ranks[0].stderr}`);
  expect(exit.code).toBe(1);
  expect(ranks[0].stderr).toMatch(/\[ERR_RANK_FAILED\] rank 0 of 2: the gradient all-reduce of epoch \d, step \d+ failed: rank 1 stopped answering \(died or hung\)/);
});

test('a hung rank stops the others after --timeout, naming it', async () => {
  const ranks = await startRanks({ kind: 'train', count: 256, batchSize: 32, steps: 1, epochs: 4, timeoutSeconds: 3 });
  await ranks[1].waitFor('epoch');
  ranks[1].child.kill('SIGSTOP');
  const started = Date.now();
  const exit = await ranks[0].exit;
  const seconds = (Date.now() - started) / 1000;
  ranks[1].child.kill('SIGKILL');
  console.log(`rank 0 after rank 1 hung (SIGSTOP), ${seconds.toFixed(1)} s, exit code ${exit.code}:\n${ranks[0].stderr}`);
  expect(exit.code).toBe(1);
  expect(ranks[0].stderr).toMatch(/rank 1 stopped answering \(died or hung\) within --timeout 3 s/);
  // The collective's timeout plus the wait for the other ranks' reports (at most the timeout again).
  expect(seconds).toBeLessThan(3 * 2 + 5);
});

test('a rendezvous port already in use is refused with a clear message', async () => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, resolve));
  const port = (server.address() as net.AddressInfo).port;
  try {
    await expect(ProcessGroup.connect({ rank: 0, worldSize: 2, localRank: 0, masterAddr: '127.0.0.1', masterPort: port, useAgentStore: false, restartCount: 0, timeoutSeconds: 5 }))
      .rejects.toMatchObject({ code: 'ERR_PORT_IN_USE', message: `MASTER_PORT ${port} on 127.0.0.1 is already in use (another run, or a leftover process); choose a free port with --master-port or MASTER_PORT` });
  } finally {
    server.close();
  }
});

test('a rank that never joins fails the rendezvous after the timeout, naming it', async () => {
  const port = await freePort();
  const error = await ProcessGroup.connect({ rank: 0, worldSize: 2, localRank: 0, masterAddr: '127.0.0.1', masterPort: port, useAgentStore: false, restartCount: 0, timeoutSeconds: 2 })
    .then(() => undefined, (e: Error & { code: string }) => e);
  console.log(`rank 0 alone, timeout 2 s: [${error?.code}] ${error?.message}`);
  expect(error).toMatchObject({ code: 'ERR_RANK_FAILED' });
  expect(error!.message).toMatch(new RegExp(`^rank 0 of 2: the process group at 127\\.0\\.0\\.1:${port} did not form within --timeout 2 s; never joined: rank 1 \\(start every rank`));
});

test('NCCL with a CPU device is refused before any connection, naming the fix', async () => {
  await expect(ProcessGroup.connect({ rank: 0, worldSize: 2, localRank: 0, masterAddr: '127.0.0.1', masterPort: 1, useAgentStore: false, restartCount: 0, backend: 'nccl', device: 'cpu' }))
    .rejects.toMatchObject({ code: 'ERR_DISTRIBUTED', message: 'backend nccl reduces CUDA tensors only, and the device is "cpu"; use --device cuda (each rank takes cuda:LOCAL_RANK) or --backend gloo' });
});
