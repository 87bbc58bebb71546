/**
 * The attack API: batched, native, gradients with respect to the input only. Every adversarial image is in
 * [0,1] and within eps of its original (up to float rounding, 1e-6).
 */
import { invalidArgument } from './errors';
import { Model } from './model';
import { NativeAttackConfig, ProgressCallback } from './native';

export interface AttackOptions {
  /** 'fgsm' is one signed-gradient step of size eps (FGSM-RS: randomStart true, stepSize 1.25*eps). */
  kind: 'fgsm' | 'pgd';
  /** Threat model; default 'linf'. */
  norm?: 'linf' | 'l2';
  /** Budget in pixel units (images are in [0,1]). */
  eps: number;
  /** PGD iterations; default 10. */
  steps?: number;
  /** Default: 2.5 * eps / steps for PGD, eps for FGSM. */
  stepSize?: number;
  /** Independent random restarts; each example keeps its worst case. Default 1. */
  restarts?: number;
  /** Uniform start inside the ball; default true for PGD, false for FGSM. */
  randomStart?: boolean;
}

export interface AttackCallOptions extends AttackOptions {
  /** Targeted attack: drive each example towards targets[i]. */
  targets?: Int32Array;
  /** Examples per native batch; default 256. */
  batchSize?: number;
  seed?: number;
  onProgress?: ProgressCallback;
}

export interface AttackResult {
  adversarial: Float32Array;
  /** Model's class for each adversarial image. */
  predictions: Int32Array;
  /** 1 where the attack succeeded: misclassified (untargeted) or classified as the target (targeted). */
  success: Uint8Array;
  successRate: number;
}

/** Converts public options into the addon's attack description (validated again natively). */
export function toNativeAttack(options: AttackOptions | null | undefined, targeted = false): NativeAttackConfig {
  if (!options) return { kind: 'none' };
  return {
    kind: options.kind,
    norm: options.norm,
    eps: options.eps,
    steps: options.kind === 'fgsm' ? undefined : options.steps,
    stepSize: options.stepSize,
    restarts: options.restarts,
    randomStart: options.randomStart,
    targeted,
  };
}

/** A short label for tables and logs, e.g. "PGD-20 Linf eps=0.1 step=0.0125". */
export function describeAttack(options: AttackOptions | null | undefined): string {
  if (!options) return 'no attack (clean)';
  const norm = (options.norm ?? 'linf') === 'linf' ? 'Linf' : 'L2';
  if (options.kind === 'fgsm') {
    const rs = options.randomStart ? '-RS' : '';
    return `FGSM${rs} ${norm} eps=${round(options.eps)}${options.stepSize !== undefined ? ` step=${round(options.stepSize)}` : ''}`;
  }
  const steps = options.steps ?? 10;
  const stepSize = options.stepSize ?? (2.5 * options.eps) / Math.max(1, steps);
  const restarts = (options.restarts ?? 1) > 1 ? ` x${options.restarts} restarts` : '';
  return `PGD-${steps} ${norm} eps=${round(options.eps)} step=${round(stepSize)}${restarts}`;
}

function round(value: number): number {
  return Number(value.toPrecision(4));
}

export async function attack(
  model: Model,
  images: Float32Array,
  labels: Int32Array,
  options: AttackCallOptions,
): Promise<AttackResult> {
  if (!options || typeof options !== 'object') throw invalidArgument('attack options must be an object such as { kind: "pgd", eps: 0.1 }');
  const targeted = options.targets !== undefined;
  const result = await model.native.attack(
    { images, labels, targets: options.targets },
    { attack: toNativeAttack(options, targeted), batchSize: options.batchSize ?? 256, seed: options.seed ?? 0 },
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
  return { ...result, success, successRate: labels.length ? successes / labels.length : 0 };
}
