/**
 * Running the peer libraries (torchattacks, fra31's AutoAttack as the pyautoattack package) on the weights and
 * images our attacks see: scripts/reference/peers.py loads a checkpoint into the PyTorch twins of
 * docs/models.md and writes the predictions on its adversarial images.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { runtimeInfo } from '../../src/index';

export const PEERS_SCRIPT = path.join(__dirname, '..', '..', 'scripts', 'reference', 'peers.py');
/** CPU threads on both sides (the machine is shared; the comparison is of results, not speed). */
export const THREADS = 2;

export interface PeerSettings {
  eps: number;
  steps?: number;
  stepSize?: number;
  queries?: number;
  restarts?: number;
  schedule?: 'rescaled' | 'autoattack';
  targetClasses?: number;
  seed?: number;
}

export type PeerLibrary = 'torchattacks' | 'autoattack';
export type PeerAttack = 'pgd' | 'apgd-ce' | 'apgd-t' | 'fab-t' | 'square' | 'autoattack';

/** The Python whose torch the addon links, when it has both peer packages; else why not. */
export function peerPython(): { python?: string; reason?: string } {
  const python = (runtimeInfo() as { torchPython?: string }).torchPython;
  if (!python) return { reason: 'runtimeInfo().torchPython is empty (the addon was built against a system LibTorch)' };
  const probe = spawnSync(python, ['-c', 'import torchattacks, pyautoattack'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    return { reason: `${python} cannot import torchattacks and pyautoattack (run scripts/setup.sh test): ${probe.stderr.trim().split('\n').pop()}` };
  }
  return { python };
}

export interface PeerResult {
  predictions: Int32Array;
  seconds: number;
  maxLinf: number;
}

/** Runs one peer attack on raw images/labels already written to `folder` (images.f32, labels.i32). */
export function runPeer(
  python: string,
  checkpoint: string,
  folder: string,
  library: PeerLibrary,
  attackName: PeerAttack,
  settings: PeerSettings,
): PeerResult {
  const outDir = fs.mkdtempSync(path.join(folder, `${library}-${attackName}-`));
  const args = [PEERS_SCRIPT, checkpoint, path.join(folder, 'images.f32'), path.join(folder, 'labels.i32')];
  args.push('--library', library, '--attack', attackName, '--eps', String(settings.eps), '--out-dir', outDir);
  args.push('--threads', String(THREADS), '--seed', String(settings.seed ?? 0));
  if (settings.steps !== undefined) args.push('--steps', String(settings.steps));
  if (settings.stepSize !== undefined) args.push('--step-size', String(settings.stepSize));
  if (settings.queries !== undefined) args.push('--queries', String(settings.queries));
  if (settings.restarts !== undefined) args.push('--restarts', String(settings.restarts));
  if (settings.schedule !== undefined) args.push('--schedule', settings.schedule);
  if (settings.targetClasses !== undefined) args.push('--target-classes', String(settings.targetClasses));
  const run = spawnSync(python, args, {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: String(THREADS), MKL_NUM_THREADS: String(THREADS) },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (run.status !== 0) throw new Error(`peers.py ${library} ${attackName} failed (exit ${run.status}):\n${run.stderr}`);
  const bytes = fs.readFileSync(path.join(outDir, 'predictions.i32'));
  const summary = JSON.parse(fs.readFileSync(path.join(outDir, 'summary.json'), 'utf8'));
  return {
    predictions: new Int32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)),
    seconds: summary.seconds,
    maxLinf: summary.maxLinf,
  };
}

export function writeInputs(folder: string, images: Float32Array, labels: Int32Array): void {
  fs.writeFileSync(path.join(folder, 'images.f32'), new Uint8Array(images.buffer, images.byteOffset, images.byteLength));
  fs.writeFileSync(path.join(folder, 'labels.i32'), new Uint8Array(labels.buffer, labels.byteOffset, labels.byteLength));
}

/** Robust examples per class (classified correctly after the attack), and per-class counts. */
export function robustCounts(predictions: Int32Array, labels: Int32Array, classes: number): { robust: number[]; total: number[] } {
  const robust = new Array<number>(classes).fill(0);
  const total = new Array<number>(classes).fill(0);
  labels.forEach((label, i) => {
    total[label] += 1;
    if (predictions[i] === label) robust[label] += 1;
  });
  return { robust, total };
}
