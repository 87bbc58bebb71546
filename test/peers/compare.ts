/**
 * The attacks compared with the peers, their budgets in the tests, and the margins.
 *
 * Why the margins hold. Robust accuracy per class is a count of examples out of n per class. An example
 * counts differently on two sides only if (a) the attack is random and the example lies where some random
 * starts break it and others do not, or (b) float rounding differs between LibTorch's and PyTorch's kernels
 * on an example at a decision tie. (b) is rare: the same weights give the same logits to ~1e-6.
 * - FAB-T's first restart starts at the image itself: deterministic, so both sides follow the same path up to
 *   rounding, and agree per example; we allow 1 example per class for (b).
 * - PGD, APGD-CE, APGD-T start at random: 100 APGD steps (20 for PGD) converge, so few examples depend on the
 *   start; measured per-example disagreement on this model is a few percent of the examples at most, spread
 *   over classes: we allow 2 examples per class and 3 examples overall. Their fates do not cancel: on an AMD Zen 4
 *   CPU, PGD-20 on the Fashion-MNIST fixture had 2 of 100 examples differ from torchattacks, both robust on our
 *   side (our own two seeds differed on 1); with k such examples the overall difference has standard deviation
 *   sqrt(k / 2) examples, and 3 examples is 3 sigma for k = 2.
 * - Square is a random search over few queries in the tests: which examples fall depends on the draw, so the
 *   sides agree in distribution only. Each side's per-class count is a sum of independent Bernoulli outcomes of
 *   the examples whose fate is random; the difference of two independent draws has standard deviation at most
 *   sqrt(2 * n * 0.25) = sqrt(n / 2) examples per class (3.9 at n = 30); we allow 3 sigma per class, and 3 sigma
 *   of the overall difference (sqrt(N / 2) / N) overall.
 * - The AutoAttack cascade ends with Square on the few points that survive the gradient stages, so its
 *   random part is small: we allow 2 examples per class and 1.5 points overall, as for APGD.
 */
import { expect } from '@jest/globals';
import type { attack as attackFunction, AttackOptions, Model } from '../../src/index';
import { PeerAttack, PeerLibrary, PeerSettings, robustCounts, runPeer } from './peers';

export interface PeerCase {
  ours: (eps: number) => AttackOptions;
  peer: (eps: number) => PeerSettings;
  peerAttack: PeerAttack;
  libraries: PeerLibrary[];
  /** Largest per-class difference of robust counts, in examples (a function of the examples per class). */
  perClassExamples: (perClass: number) => number;
  /** Largest difference of overall robust accuracy, in points. */
  overallPoints: (total: number) => number;
}

// Overall margins never go below one example: on 20 images one example is 5 points. Converged: 3 examples.
const converged = { perClassExamples: () => 2, overallPoints: (total: number) => 300 / total };
const deterministic = { perClassExamples: () => 1, overallPoints: (total: number) => Math.max(1, 100 / total) };
const random = {
  perClassExamples: (n: number) => Math.ceil(3 * Math.sqrt(n / 2)),
  overallPoints: (total: number) => (100 * 3 * Math.sqrt(total / 2)) / total,
};

export interface PeerBudget {
  pgdSteps: number;
  apgdSteps: number;
  /** APGD-T and FAB-T steps (per target class). */
  targetedSteps: number;
  /** APGD-T and FAB-T target classes (the standard 9 when left out, or all others when fewer). */
  targetClasses?: number;
  queries: number;
}

/** The test budgets: few steps and queries where the cost adds up; the full settings are in scripts/reference/peer-table.js. */
export function peerCases(b: PeerBudget): [string, PeerCase][] {
  const both: PeerLibrary[] = ['torchattacks', 'autoattack'];
  const targets = b.targetClasses === undefined ? {} : { targetClasses: b.targetClasses };
  return [
    [`PGD-${b.pgdSteps}`, { ours: (eps) => ({ kind: 'pgd', eps, steps: b.pgdSteps }), peer: (eps) => ({ eps, steps: b.pgdSteps }), peerAttack: 'pgd', libraries: ['torchattacks'], ...converged }],
    [`APGD-CE-${b.apgdSteps}`, { ours: (eps) => ({ kind: 'apgd-ce', eps, steps: b.apgdSteps }), peer: (eps) => ({ eps, steps: b.apgdSteps }), peerAttack: 'apgd-ce', libraries: both, ...converged }],
    [`APGD-T-${b.targetedSteps}`, { ours: (eps) => ({ kind: 'apgd-t', eps, steps: b.targetedSteps, ...targets }), peer: (eps) => ({ eps, steps: b.targetedSteps, ...targets }), peerAttack: 'apgd-t', libraries: both, ...converged }],
    [`FAB-T-${b.targetedSteps}`, { ours: (eps) => ({ kind: 'fab-t', eps, steps: b.targetedSteps, ...targets }), peer: (eps) => ({ eps, steps: b.targetedSteps, ...targets }), peerAttack: 'fab-t', libraries: both, ...deterministic }],
    [`Square-${b.queries}`, { ours: (eps) => ({ kind: 'square', eps, queries: b.queries, squareSchedule: 'autoattack' }), peer: (eps) => ({ eps, queries: b.queries, schedule: 'autoattack' }), peerAttack: 'square', libraries: both, ...random }],
    [`AutoAttack (${b.targetedSteps} steps, ${b.queries} queries)`, { ours: (eps) => ({ kind: 'autoattack', eps, steps: b.targetedSteps, queries: b.queries, ...targets }), peer: (eps) => ({ eps, steps: b.targetedSteps, queries: b.queries, ...targets }), peerAttack: 'autoattack', libraries: both, ...converged }],
  ];
}

export interface AgreementInput {
  python: string;
  checkpoint: string;
  folder: string;
  model: Model;
  images: Float32Array;
  labels: Int32Array;
  classes: number;
  eps: number;
  testCase: PeerCase;
  attack: typeof attackFunction;
}

export async function expectAgreement(input: AgreementInput): Promise<void> {
  const { testCase, labels, classes } = input;
  // The peers run fp32 on contiguous tensors: ours names the same exact path (the library's default is 'auto').
  const ours = await input.attack(input.model, input.images, labels, { ...testCase.ours(input.eps), seed: 0, precision: 'fp32', memoryFormat: 'contiguous' });
  const mine = robustCounts(ours.predictions, labels, classes);
  const perClass = Math.min(...mine.total);
  const total = labels.length;
  const overall = (counts: number[]) => (100 * counts.reduce((a, b) => a + b, 0)) / total;
  for (const library of testCase.libraries) {
    const theirs = runPeer(input.python, input.checkpoint, input.folder, library, testCase.peerAttack, testCase.peer(input.eps));
    expect(theirs.maxLinf).toBeLessThanOrEqual(input.eps + 1e-6);
    const peer = robustCounts(theirs.predictions, labels, classes);
    const differences = mine.robust.map((count, k) => Math.abs(count - peer.robust[k]));
    const report = `${library}: ours ${JSON.stringify(mine.robust)} vs ${JSON.stringify(peer.robust)} of ${perClass} per class`;
    expect({ report, largest: Math.max(...differences) <= testCase.perClassExamples(perClass) }).toEqual({ report, largest: true });
    expect(Math.abs(overall(mine.robust) - overall(peer.robust))).toBeLessThanOrEqual(testCase.overallPoints(total));
  }
}
