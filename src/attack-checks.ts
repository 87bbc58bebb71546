/**
 * AutoAttack's warnings that an evaluation may be fooled by gradient masking, computed from results the
 * caller already has (plus one cheap repeated clean pass for randomness).
 */
import { ImageDataset } from './data/dataset';
import { evaluate } from './evaluate';
import { Model } from './model';

export interface AttackStrengthResult {
  /** e.g. 'PGD-20'. */
  label: string;
  /** Overall robust accuracy, 0..1. */
  robust: number;
}

/**
 * Given results from the weakest to the strongest attack, one warning per pair where the stronger attack
 * left MORE examples robust than a weaker one: a sign that gradients mislead the stronger attack.
 */
export function orderingWarnings(weakToStrong: readonly AttackStrengthResult[], tolerance = 0): string[] {
  const warnings: string[] = [];
  for (let strong = 1; strong < weakToStrong.length; strong++) {
    for (let weak = 0; weak < strong; weak++) {
      const a = weakToStrong[weak];
      const b = weakToStrong[strong];
      if (b.robust > a.robust + tolerance) {
        warnings.push(`robust accuracy under ${b.label} (${(100 * b.robust).toFixed(2)}%) is higher than under the weaker ` +
          `${a.label} (${(100 * a.robust).toFixed(2)}%): possible gradient masking; report the lower number`);
      }
    }
  }
  return warnings;
}

/** Warns when two clean passes over the same images disagree: a randomized model defeats fixed-input attacks. */
export async function randomnessWarning(model: Model, data: Pick<ImageDataset, 'images' | 'labels'>): Promise<string | null> {
  const first = await evaluate(model, data);
  const second = await evaluate(model, data);
  const same = first.meanLoss.every((loss, k) => loss === second.meanLoss[k]) &&
    first.cleanPredictions.every((p, i) => p === second.cleanPredictions[i]);
  return same ? null : 'the model\'s output changes between two passes over the same images (randomness): attacks need ' +
    'expectation over transformation (EOT), and robust accuracy from one pass overstates robustness';
}
