/**
 * Per-dataset defaults. The community recipe (../shared/CONTEXT.md "Usual settings") is recorded beside
 * the quick settings the CLI uses by default so that a first run ends in minutes on 2 cores; every value is
 * a CLI option, and the run prints which ones are ours.
 */
import { Architecture } from './model';

export interface Recipe {
  architecture: Architecture;
  mean: number[];
  std: number[];
  eps: number;
  /** Community training attack: PGD steps and step size. */
  trainSteps: number;
  trainStepSize: number;
  evalSteps: number;
  learningRate: number;
  batchSize: number;
  epochs: number;
}

export const RECIPES: Record<'fashion-mnist' | 'mnist', Recipe> = {
  // SmallCNN as in TRADES' MNIST setup; eps 0.1 is the usual Fashion-MNIST budget.
  'fashion-mnist': {
    architecture: 'smallcnn',
    mean: [0.286],
    std: [0.353],
    eps: 0.1,
    trainSteps: 40,
    trainStepSize: 0.01,
    evalSteps: 20,
    learningRate: 0.01,
    batchSize: 128,
    epochs: 20,
  },
  mnist: {
    architecture: 'smallcnn',
    mean: [0.1307],
    std: [0.3081],
    eps: 0.3,
    trainSteps: 40,
    trainStepSize: 0.01,
    evalSteps: 40,
    learningRate: 0.01,
    batchSize: 128,
    epochs: 20,
  },
};

/** The CLI's defaults: fewer examples, steps and epochs than the community recipe, same model and budget. */
export const QUICK_DEFAULTS = {
  epochs: 3,
  trainPerClass: 1000,
  trainSteps: 5,
  evalPerClass: 200,
  learningRate: 0.1,
  schedule: 'cyclic',
} as const;
