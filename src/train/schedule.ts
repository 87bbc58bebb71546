/**
 * Learning-rate schedules, evaluated per optimizer step. A whole epoch's rates are returned as one
 * Float32Array so a single array crosses into native code per epoch instead of one call per step.
 */
import { invalidArgument, outOfRange } from '../errors';

export type LrSchedule =
  | { kind: 'constant'; lr: number }
  | {
      kind: 'piecewise';
      lr: number;
      /** Epochs (fractional allowed) from which the rate is multiplied by `factor` once more. */
      milestones: number[];
      /** e.g. 0.1 */
      factor: number;
    }
  | {
      /** One-cycle triangle of Wong et al. (fast adversarial training): 0 -> lrMax at peakFraction -> 0 at the end. */
      kind: 'cyclic';
      lrMax: number;
      /** Share of training, in (0, 1), at which the rate peaks. */
      peakFraction: number;
    };

/** Milestones of 'piecewise' without an explicit factor are decays by 10x, the usual step schedule. */
export const PIECEWISE_FACTOR = 0.1;
/** Peak of 'cyclic' at 2/5 of training, as in Wong et al. (`epochs * 2 // 5`). */
export const CYCLIC_PEAK_FRACTION = 0.4;

const ACCEPTED_SCHEDULES =
  "'constant', 'cyclic' or 'piecewise:F1,F2,...' with increasing fractions of the total epochs in (0, 1), " +
  "e.g. 'piecewise:0.5,0.75'";

/**
 * Learning rate of each step of `epoch` (0-based). Step t of epoch e sits at e + t/stepsPerEpoch epochs;
 * the triangle is sampled after the step, at (e*stepsPerEpoch + t + 1)/stepsPerEpoch, like
 * np.interp(x, [0, peak*total, total], [0, lrMax, 0]) in Wong et al., so the last step of training has rate 0.
 */
export function learningRatesForEpoch(
  schedule: LrSchedule,
  epoch: number,
  stepsPerEpoch: number,
  totalEpochs: number,
): Float32Array {
  checkPositiveInteger('stepsPerEpoch', stepsPerEpoch);
  checkPositiveInteger('totalEpochs', totalEpochs);
  if (!Number.isInteger(epoch) || epoch < 0 || epoch >= totalEpochs) {
    throw outOfRange(`epoch is ${epoch}, expected an integer in [0, ${totalEpochs}) (epochs are 0-based)`);
  }
  checkSchedule(schedule);

  const rates = new Float32Array(stepsPerEpoch);
  for (let step = 0; step < stepsPerEpoch; step++) {
    rates[step] = learningRateAt(schedule, epoch, step, stepsPerEpoch, totalEpochs);
  }
  return rates;
}

/**
 * True when every step from `startEpoch` to the end gets learning rate 0 (in float32, as the addon receives it):
 * e.g. a cyclic schedule of one step in all (the triangle ends at 0) or a rate below float32's smallest.
 */
export function learningRateIsZeroThroughout(schedule: LrSchedule, stepsPerEpoch: number, totalEpochs: number, startEpoch = 0): boolean {
  for (let epoch = startEpoch; epoch < totalEpochs; epoch++) {
    if (learningRatesForEpoch(schedule, epoch, stepsPerEpoch, totalEpochs).some((rate) => rate > 0)) return false;
  }
  return startEpoch < totalEpochs;
}

/** One line for logs, e.g. "piecewise lr 0.1, x0.1 at epochs 15, 22.5". */
export function describeSchedule(schedule: LrSchedule): string {
  switch (schedule.kind) {
    case 'constant':
      return `constant lr ${schedule.lr}`;
    case 'piecewise': {
      const milestones = schedule.milestones.length > 0 ? schedule.milestones.join(', ') : 'none';
      return `piecewise lr ${schedule.lr}, x${schedule.factor} at epochs ${milestones}`;
    }
    case 'cyclic':
      return `cyclic lr 0 -> ${schedule.lrMax} at ${formatPercent(schedule.peakFraction)} of training -> 0`;
  }
}

/**
 * Reads the CLI's --lr-schedule value. Piecewise milestones are written as fractions of training and
 * converted to epochs here, which is why `totalEpochs` is needed; `baseLr` is the rate (the peak for 'cyclic').
 */
export function parseSchedule(text: string, baseLr: number, totalEpochs: number): LrSchedule {
  if (typeof text !== 'string') throw invalidArgument(`learning-rate schedule must be a string, expected ${ACCEPTED_SCHEDULES}`);
  if (!Number.isFinite(baseLr) || baseLr <= 0) {
    throw outOfRange(`learning rate is ${baseLr}, expected a positive number`);
  }
  checkPositiveInteger('totalEpochs', totalEpochs);
  const spec = text.trim();
  if (spec === 'constant') return { kind: 'constant', lr: baseLr };
  if (spec === 'cyclic') return { kind: 'cyclic', lrMax: baseLr, peakFraction: CYCLIC_PEAK_FRACTION };

  const piecewise = /^piecewise:(.+)$/.exec(spec);
  if (piecewise === null) {
    throw outOfRange(`learning-rate schedule is '${text}', expected ${ACCEPTED_SCHEDULES}`);
  }
  const fractions = piecewise[1].split(',').map((part) => (part.trim() === '' ? NaN : Number(part)));
  const valid = fractions.every((fraction, i) => fraction > 0 && fraction < 1 && (i === 0 || fraction > fractions[i - 1]));
  if (!valid) {
    throw outOfRange(`learning-rate schedule is '${text}', expected ${ACCEPTED_SCHEDULES}`);
  }
  return {
    kind: 'piecewise',
    lr: baseLr,
    // Rounded so that 0.14 * 50 is epoch 7, not 7.000000000000001 (which would delay the decay by a step).
    milestones: fractions.map((fraction) => Number((fraction * totalEpochs).toPrecision(12))),
    factor: PIECEWISE_FACTOR,
  };
}

function learningRateAt(
  schedule: LrSchedule,
  epoch: number,
  step: number,
  stepsPerEpoch: number,
  totalEpochs: number,
): number {
  switch (schedule.kind) {
    case 'constant':
      return schedule.lr;
    case 'piecewise': {
      const progress = epoch + step / stepsPerEpoch;
      const decays = schedule.milestones.filter((milestone) => progress >= milestone).length;
      return schedule.lr * schedule.factor ** decays;
    }
    case 'cyclic': {
      const progress = (epoch * stepsPerEpoch + step + 1) / stepsPerEpoch;
      const peak = schedule.peakFraction * totalEpochs;
      if (progress <= peak) return (schedule.lrMax * progress) / peak;
      return schedule.lrMax * Math.max(0, (totalEpochs - progress) / (totalEpochs - peak));
    }
  }
}

function checkSchedule(schedule: LrSchedule): void {
  switch (schedule.kind) {
    case 'constant':
      checkPositive('constant schedule lr', schedule.lr);
      return;
    case 'piecewise':
      checkPositive('piecewise schedule lr', schedule.lr);
      checkPositive('piecewise schedule factor', schedule.factor);
      for (const milestone of schedule.milestones) {
        if (!Number.isFinite(milestone) || milestone < 0) {
          throw outOfRange(`piecewise schedule milestone is ${milestone}, expected an epoch >= 0`);
        }
      }
      return;
    case 'cyclic':
      checkPositive('cyclic schedule lrMax', schedule.lrMax);
      if (!(schedule.peakFraction > 0 && schedule.peakFraction < 1)) {
        throw outOfRange(`cyclic schedule peakFraction is ${schedule.peakFraction}, expected a number in (0, 1)`);
      }
      return;
    default:
      throw outOfRange(
        `schedule kind is ${JSON.stringify((schedule as { kind: unknown }).kind)}, expected 'constant', 'piecewise' or 'cyclic'`,
      );
  }
}

function checkPositive(name: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) throw outOfRange(`${name} is ${value}, expected a positive number`);
}

function checkPositiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value <= 0) throw outOfRange(`${name} is ${value}, expected a positive integer`);
}

function formatPercent(fraction: number): string {
  return `${Number((fraction * 100).toFixed(1))}%`;
}
