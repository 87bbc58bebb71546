/**
 * Class-wise evaluation: one native call over the whole set returns confusion matrices and per-class
 * statistics; this module turns them into accuracies per class.
 */
import { AttackOptions, describeAttack, toNativeAttack } from './attack';
import { ImageDataset } from './data/dataset';
import { Model } from './model';
import { ProgressCallback } from './native';

export interface EvaluateOptions {
  /** null or omitted: clean evaluation only. */
  attack?: AttackOptions | null;
  batchSize?: number;
  seed?: number;
  onProgress?: ProgressCallback;
}

export interface ClassEvaluation {
  attackLabel: string;
  classNames: string[];
  /** Test examples per class. */
  counts: number[];
  cleanAccuracy: number[];
  /** Share of ALL examples of the class still classified correctly under attack (not only clean-correct ones). */
  robustAccuracy: number[];
  /** [true][predicted] counts. */
  cleanConfusion: number[][];
  adversarialConfusion: number[][];
  /** Mean clean cross-entropy of each class's examples. */
  meanLoss: number[];
  /** Mean L2 norm of the input gradient of the clean loss, per class. */
  meanGradientNorm: number[];
  /** L2 norm of each class's row of the final linear layer. */
  weightNorms: number[];
  cleanPredictions: Int32Array;
  adversarialPredictions: Int32Array;
  overall: { clean: number; robust: number };
  seconds: number;
}

function square(flat: Int32Array, classes: number): number[][] {
  return Array.from({ length: classes }, (_, row) => Array.from(flat.subarray(row * classes, (row + 1) * classes)));
}

export async function evaluate(
  model: Model,
  data: Pick<ImageDataset, 'images' | 'labels'>,
  options: EvaluateOptions = {},
): Promise<ClassEvaluation> {
  const classes = model.numClasses;
  const raw = await model.native.evaluate(
    { images: data.images, labels: data.labels },
    { attack: toNativeAttack(options.attack), batchSize: options.batchSize ?? 256, seed: options.seed ?? 0 },
    options.onProgress,
  );
  const cleanConfusion = square(raw.cleanConfusion, classes);
  const adversarialConfusion = square(raw.adversarialConfusion, classes);
  const counts = cleanConfusion.map((row) => row.reduce((a, b) => a + b, 0));
  const perClass = (value: (k: number) => number) => counts.map((n, k) => (n > 0 ? value(k) / n : 0));
  const total = counts.reduce((a, b) => a + b, 0);
  const diagonal = (m: number[][]) => m.reduce((sum, row, k) => sum + row[k], 0);
  return {
    attackLabel: describeAttack(options.attack),
    classNames: model.config.classNames,
    counts,
    cleanAccuracy: perClass((k) => cleanConfusion[k][k]),
    robustAccuracy: perClass((k) => adversarialConfusion[k][k]),
    cleanConfusion,
    adversarialConfusion,
    meanLoss: perClass((k) => raw.cleanLossSum[k]),
    meanGradientNorm: perClass((k) => raw.gradientNormSum[k]),
    weightNorms: Array.from(raw.weightNorms),
    cleanPredictions: raw.cleanPredictions,
    adversarialPredictions: raw.adversarialPredictions,
    overall: { clean: total ? diagonal(cleanConfusion) / total : 0, robust: total ? diagonal(adversarialConfusion) / total : 0 },
    seconds: raw.seconds,
  };
}
