/** The robust-fairness update rules on small hand-computed per-class inputs, and their bad-input errors. */
import {
  cfaClassBeta, cfaClassEps, cfaTradesWeights, dafaWeights, fawaAverage, fawaGate, frlErrors, frlMultipliers, frlWeights, normalizeMultipliers,
  resolveFairness, rmEpsScale, rmMultipliers, runConfig, selectionScore, watLossEntry, watWeights,
} from '../../src';
import { checkFiniteSettings, fairnessEpochSettings, initialFairnessState, nextFairnessState, validationPerClass } from '../../src/train/fairness';
import { nativeAddon } from '../../src/native';

describe('FRL', () => {
  test('N clamps at 0 and rescales a sum above lim to lim', () => {
    expect(normalizeMultipliers([-0.1, 0.2, 0.1], 0.5)).toEqual([0, 0.2, 0.1]);
    const scaled = normalizeMultipliers([0.6, -1, 0.4], 0.5);
    expect(scaled[0]).toBeCloseTo(0.3, 15);
    expect(scaled[1]).toBe(0);
    expect(scaled[2]).toBeCloseTo(0.2, 15);
  });

  test('errors, multipliers and weights of three classes by hand', () => {
    // clean 0.9, 0.6, 0.9; robust 0.5, 0.2, 0.7: e_nat 0.1, 0.4, 0.1 (E 0.2); e_bndy 0.4, 0.4, 0.2 (E 1/3).
    const errors = frlErrors([0.9, 0.6, 0.9], [0.5, 0.2, 0.7]);
    expect(errors.averageNatural).toBeCloseTo(0.2, 15);
    expect(errors.averageBoundary).toBeCloseTo(1 / 3, 15);
    const next = frlMultipliers({ natural: [0, 0, 0], boundary: [0.1, 0, 0] }, errors, { rate: 0.05, tau: 0.1, lim: 0.5 });
    // l0: 0.05 * (e - 0.2 - 0.1) = -0.01, 0.005, -0.01 -> N: 0, 0.005, 0.
    expect(next.natural[0]).toBe(0);
    expect(next.natural[1]).toBeCloseTo(0.005, 15);
    expect(next.natural[2]).toBe(0);
    // l1: l + 0.1 * (e - 1/3 - 0.1): 0.1 - 0.00333.., -0.00333.., -0.02333.. -> 0.0966.., 0, 0.
    expect(next.boundary[0]).toBeCloseTo(0.1 - 0.1 / 30, 15);
    expect(next.boundary.slice(1)).toEqual([0, 0]);
    // w = 1/3 + l - sum(l)/3
    const weights = frlWeights([0.3, 0, 0]);
    expect(weights[0]).toBeCloseTo(1 / 3 + 0.2, 15);
    expect(weights[1]).toBeCloseTo(1 / 3 - 0.1, 15);
    expect(weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 15);
  });

  test('RM: l2 moves by rate2 times the excess boundary error; the eps multiplier is clamped to [0.98, 3]', () => {
    const errors = frlErrors([0.9, 0.6, 0.9], [0.5, 0.2, 0.7]);
    const l2 = rmMultipliers([0, 0, 0], errors, { rate2: 0.2, tau: 0.07 });
    expect(l2[0]).toBeCloseTo(0.2 * (0.4 - 1 / 3 - 0.07), 15);
    expect(l2[2]).toBeCloseTo(0.2 * (0.2 - 1 / 3 - 0.07), 15);
    expect(rmEpsScale(0.1)).toBeCloseTo(Math.exp(0.2), 15);
    expect(rmEpsScale(-1)).toBe(0.98);
    expect(rmEpsScale(0)).toBe(1);
    expect(rmEpsScale(5)).toBe(3);
  });

  test('FRL-RWRM trains with C times the weights on the two TRADES terms and eps * the RM multiplier', () => {
    const settings = resolveFairness({ kind: 'frl-rwrm' }, 'trades');
    const state = { kind: 'frl-rwrm' as const, frl: { natural: [0.3, 0, 0], boundary: [0, 0, 0], margin: [0.1, 0, -1] } };
    const epoch = fairnessEpochSettings(state, settings, { epoch: 0, epochs: 5, eps: 0.1, beta: 6, method: 'trades', classes: 3 });
    expect(epoch.naturalWeights![0]).toBeCloseTo(3 * (1 / 3 + 0.2), 14);
    expect(epoch.robustWeights).toEqual([1, 1, 1]);
    expect(epoch.classEps![0]).toBeCloseTo(0.1 * Math.exp(0.2), 15);
    expect(epoch.classEps![2]).toBeCloseTo(0.098, 15);
  });
});

describe('CFA', () => {
  test('class-wise eps (l1 + t_k) eps and beta (l2 + t_k) beta, and CCR as the two TRADES weights', () => {
    expect(cfaClassEps([0.2, 0.5], 0.5, 0.1).map((e) => Number(e.toFixed(12)))).toEqual([0.07, 0.1]);
    const beta = cfaClassBeta([0.2, 0.5], 0.5, 6);
    expect(beta[0]).toBeCloseTo(4.2, 14);
    expect(beta[1]).toBeCloseTo(6, 14);
    const weights = cfaTradesWeights(beta, 6);
    // (CE + 4.2 KL) / 5.2 = CE / 5.2 + 6 * (4.2 / (6 * 5.2)) KL
    expect(weights.natural[0]).toBeCloseTo(1 / 5.2, 15);
    expect(6 * weights.robust[0]).toBeCloseTo(4.2 / 5.2, 15);
  });

  test('FAWA: the gate opens at a worst class of delta; the average is alpha * avg + (1 - alpha) * theta', () => {
    expect(fawaGate([0.3, 0.2, 0.9], 0.2)).toBe(true);
    expect(fawaGate([0.3, 0.19, 0.9], 0.2)).toBe(false);
    const first = fawaAverage(undefined, Float32Array.from([1, 2]), 0.85);
    expect(Array.from(first)).toEqual([1, 2]);
    const second = fawaAverage(first, Float32Array.from([3, 0]), 0.85);
    expect(second[0]).toBeCloseTo(0.85 + 0.15 * 3, 6);
    expect(second[1]).toBeCloseTo(1.7, 6);
  });

  test('the first epoch trains with the run eps; after it, each class with its training robust accuracy', () => {
    const settings = resolveFairness({ kind: 'cfa' }, 'pgd');
    expect(settings.l1).toBe(0.5);
    const context = { epoch: 0, epochs: 3, classes: 2, dafaLam: 1 };
    const first = fairnessEpochSettings(initialFairnessState('cfa', 2), settings, { ...context, eps: 0.1, beta: 6, method: 'pgd' });
    expect(first.classEps).toBeUndefined();
    expect(first.classStatistics).toBe(true);
    const train = { count: Float64Array.from([10, 4]), correct: Float64Array.from([2, 2]), probabilitySum: new Float64Array(4), marginSum: new Float64Array(2) };
    const state = nextFairnessState(initialFairnessState('cfa', 2), settings, { ...context, beta: 6 }, { train, fawaUpdated: true });
    expect(state.cfa).toEqual({ trainRobust: [0.2, 0.5], fawaUpdates: 1 });
    const second = fairnessEpochSettings(state, settings, { ...context, epoch: 1, eps: 0.1, beta: 6, method: 'pgd' });
    expect(second.classEps!.map((e) => Number(e.toFixed(12)))).toEqual([0.07, 0.1]);
  });
});

describe('WAT', () => {
  test('Hedge over the classes and their average: w = C softmax(eta L), class weight w_c + w_avg', () => {
    const entry = watLossEntry([1, 2, 3]);
    expect(entry).toEqual([1, 2, 3, 2]);
    const weights = watWeights(entry, 0.1);
    const exps = entry.map((l) => Math.exp(0.1 * l));
    const total = exps.reduce((a, b) => a + b, 0);
    for (let c = 0; c < 3; c++) expect(weights[c]).toBeCloseTo((3 * (exps[c] + exps[3])) / total, 14);
    // No loss yet: every entry 3/4, every class 3/2.
    expect(watWeights([0, 0, 0, 0], 0.1)).toEqual([1.5, 1.5, 1.5]);
  });

  test('the Hedge input is the validation split\'s mean TRADES loss per class, CE + beta KL, and their mean over all examples', () => {
    const settings = resolveFairness({ kind: 'wat' }, 'trades');
    const initial = initialFairnessState('wat', 2);
    const context = { epoch: 0, epochs: 3, classes: 2, dafaLam: 1, beta: 6 };
    // Before the first round the official code's weights are all 1: each class weighs w_c + w_avg = 2.
    expect(fairnessEpochSettings(initial, settings, { ...context, eps: 0.1, method: 'trades' }).classWeights).toEqual([2, 2]);
    const validation = { counts: [3, 1], cleanAccuracy: [1, 1], robustAccuracy: [1, 1], meanLoss: [0.5, 1.25], meanTradesKl: [0.25, 0.125] };
    const state = nextFairnessState(initial, settings, context, { validation });
    // Class 0: 0.5 + 6 * 0.25 = 2; class 1: 1.25 + 6 * 0.125 = 2; average over the 4 examples (3 * 2 + 1 * 2) / 4.
    expect(state.wat).toEqual({ cumulativeLoss: [2, 2, 2], rounds: 1 });
    const next = nextFairnessState(state, settings, { ...context, epoch: 1 }, { validation: { ...validation, meanTradesKl: [0, 0.5] } });
    // Round 2: class 0 0.5, class 1 1.25 + 3 = 4.25, average (3 * 0.5 + 4.25) / 4 = 1.4375.
    expect(next.wat).toEqual({ cumulativeLoss: [2.5, 6.25, 3.4375], rounds: 2 });
    expect(fairnessEpochSettings(next, settings, { ...context, epoch: 2, eps: 0.1, method: 'trades' }).classWeights).toEqual(watWeights([2.5, 6.25, 3.4375], 0.1));
  });
});

describe('DAFA', () => {
  test('W on a 3-class confusion by hand', () => {
    // Mean softmax of each class's adversarial examples: class 0 is the hardest (p_0(0) = 0.5).
    const p = [
      [0.5, 0.3, 0.2],
      [0.1, 0.8, 0.1],
      [0.2, 0.1, 0.7],
    ];
    const w = dafaWeights(p, 1);
    // W_0 = 1 + p_0(1) p_1(1) + p_0(2) p_2(2) = 1 + 0.24 + 0.14
    expect(w[0]).toBeCloseTo(1.38, 14);
    // W_1 (the easiest) = 1 - p_0(1) p_1(1) - p_2(1) p_1(1) = 1 - 0.24 - 0.08
    expect(w[1]).toBeCloseTo(0.68, 14);
    // W_2: harder than 1 (+ p_2(1) p_1(1) = 0.08), easier than 0 (- p_0(2) p_2(2) = 0.14)
    expect(w[2]).toBeCloseTo(0.94, 14);
    // A strong lam would push W_1 below 0: clamped at 0.01.
    expect(dafaWeights(p, 10)[1]).toBe(0.01);
  });
});

describe('FAAL', () => {
  /** max sum p m over a fine grid of the 3-simplex with KL(u || p) <= r. */
  function bruteForce(margins: number[], radius: number): { value: number; p: number[] } {
    let best = { value: -Infinity, p: [0, 0, 0] };
    const steps = 1000;
    for (let i = 1; i < steps; i++) {
      for (let j = 1; i + j < steps; j++) {
        const p = [i / steps, j / steps, (steps - i - j) / steps];
        const kl = p.reduce((sum, value) => sum + (1 / 3) * Math.log(1 / 3 / value), 0);
        if (kl > radius) continue;
        const value = p.reduce((sum, v, c) => sum + v * margins[c], 0);
        if (value > best.value) best = { value, p };
      }
    }
    return best;
  }

  test.each([
    [[0.2, -0.5, 0.6], 0.5],
    [[-0.9, -0.1, -0.4], 0.1],
    [[0.3, 0.1, -0.2], 1.0],
  ])('the native 1-D solve of margins %j, radius %d agrees with a search over the simplex', (margins, radius) => {
    const weights = Array.from(nativeAddon().faalClassWeights(Float64Array.from(margins), radius));
    const p = weights.map((w) => w / 3);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    const kl = p.reduce((sum, value) => sum + (1 / 3) * Math.log(1 / 3 / value), 0);
    expect(kl).toBeLessThanOrEqual(radius + 1e-9);
    const value = p.reduce((sum, v, c) => sum + v * margins[c], 0);
    const brute = bruteForce(margins, radius);
    expect(value).toBeGreaterThanOrEqual(brute.value - 1e-9);
    expect(value - brute.value).toBeLessThan(2e-3);
    for (let c = 0; c < 3; c++) expect(Math.abs(p[c] - brute.p[c])).toBeLessThan(0.01);
  });

  test('equal margins or radius 0 give weight 1 everywhere; bad input is refused', () => {
    expect(Array.from(nativeAddon().faalClassWeights(Float64Array.from([0.1, 0.1]), 0.5))).toEqual([1, 1]);
    expect(Array.from(nativeAddon().faalClassWeights(Float64Array.from([0.1, 0.3]), 0))).toEqual([1, 1]);
    expect(() => nativeAddon().faalClassWeights(Float64Array.from([0.1, NaN]), 0.5)).toThrow('margins[1] is not finite; pass finite per-class margins');
    expect(() => nativeAddon().faalClassWeights(Float64Array.from([0.1]), -1)).toThrow('faalClassWeights radius must be a finite number >= 0 (FAAL\'s default is 0.5)');
  });
});

describe('checkpoint selection', () => {
  test('robust: overall robust accuracy; robust+worst adds the worst class', () => {
    const evaluation = { robustAccuracy: [0.5, 0.1, 0.3], overall: { robust: 0.3 } };
    expect(selectionScore('robust', evaluation)).toBe(0.3);
    expect(selectionScore('robust+worst', evaluation)).toBeCloseTo(0.4, 15);
  });

  test('fairness runs select on validation by default; others on test, as before', () => {
    const fair = runConfig({ dataset: 'mnist', method: 'trades', fairness: { kind: 'wat' } });
    expect(fair.selectOn).toBe('validation');
    expect(fair.selectRule).toBe('robust');
    expect(fair.fairness).toEqual({ kind: 'wat', eta: 0.1, validationSteps: 10 });
    const plain = runConfig({ dataset: 'mnist' });
    expect(plain.selectOn).toBeUndefined();
    expect(runConfig({ dataset: 'mnist', selectOn: 'validation', selectRule: 'robust+worst' }).selectRule).toBe('robust+worst');
  });
});

describe('bad input, before any training', () => {
  test.each([
    [{ kind: 'frl' }, 'trades', '--fairness is "frl"; accepted: frl-rw, frl-rm, frl-rwrm, cfa, wat, dafa, faal'],
    [{ kind: 'wat' }, 'pgd', '--fairness wat is defined on --method trades, not pgd; pass --method trades'],
    [{ kind: 'cfa' }, 'mart', '--fairness cfa is defined on --method pgd or trades, not mart; pass --method trades'],
    [{ kind: 'cfa', tau: 0.1 }, 'pgd', 'fairness cfa does not use tau; its options are l1, l2, alpha, delta, begin, validationPerClass, validationSteps'],
    [{ kind: 'frl-rw', rate: NaN }, 'trades', 'fairness frl-rw: rate is NaN; expected a number in [0, 100]'],
    [{ kind: 'cfa', alpha: 2 }, 'pgd', 'fairness cfa: alpha is 2; expected a number in [0, 1]'],
    [{ kind: 'cfa', begin: 1.5 }, 'pgd', 'fairness cfa: begin is 1.5; expected an integer in [1, 1000000]'],
  ])('%j on %s', (options, method, message) => {
    expect(() => resolveFairness(options as never, method as never)).toThrow(message);
    expect(() => runConfig({ dataset: 'mnist', method: method as never, fairness: options as never })).toThrow(message);
  });

  test('a validation split larger than a class', () => {
    expect(() => validationPerClass('cfa', 50, 50, 'shirt')).toThrow(
      'the validation split of 50 per class is not smaller than class "shirt" (50 training images); pass --validation-per-class below 50');
    expect(validationPerClass('frl-rw', undefined, 6000, 'shirt')).toBe(300);
    expect(validationPerClass('frl-rw', undefined, 100, 'shirt')).toBe(20);
    expect(validationPerClass('cfa', undefined, 6000, 'shirt')).toBe(120);
  });

  test('a multiplier that turned non-finite', () => {
    const settings = resolveFairness({ kind: 'frl-rm' }, 'trades');
    const state = { kind: 'frl-rm' as const, frl: { natural: [0, 0], boundary: [0, 0], margin: [NaN, 0] } };
    const epoch = fairnessEpochSettings(state, settings, { epoch: 3, epochs: 5, eps: 0.1, beta: 6, method: 'trades', classes: 2 });
    expect(() => checkFiniteSettings(epoch, 'frl-rm', 3)).toThrow("fairness frl-rm: classEps[0] is NaN before epoch 4; lower the method's rate or the learning rate");
  });

  test('selection and validation options', () => {
    expect(() => runConfig({ dataset: 'mnist', selectOn: 'train' as never })).toThrow('--select-on is "train"; accepted: validation, test');
    expect(() => runConfig({ dataset: 'mnist', selectRule: 'worst' as never })).toThrow('--select-rule is "worst"; accepted: robust, robust+worst');
    expect(() => runConfig({ dataset: 'mnist', validationPerClass: 10 })).toThrow(
      '--validation-per-class sizes the validation split, which only --fairness or --select-on validation uses; add one or leave it out');
  });
});
