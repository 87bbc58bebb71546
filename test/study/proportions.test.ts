import { differenceInterval, fisherExact, shareInterval, wilsonInterval } from '../../src/study/proportions';

// Known answers: scipy 1.17 (binomtest(k, n).proportion_ci(method='wilson'), fisher_exact) and Newcombe (1998).
describe('wilsonInterval', () => {
  it.each([
    [8, 10, 0.4901624715366418, 0.9433178485456248],
    [0, 10, 0, 0.27753279986288926],
    [10, 10, 0.7224672001371109, 1],
    [50, 100, 0.4038315303659956, 0.5961684696340044],
    [1, 200, 0.0008831687156009762, 0.02777370439789293],
    [131, 200, 0.5867558925905367, 0.7174020562325105],
  ])('%d of %d: [%f, %f] as scipy', (successes, n, low, high) => {
    const interval = wilsonInterval(successes, n);
    expect(interval.low).toBeCloseTo(low, 12);
    expect(interval.high).toBeCloseTo(high, 12);
  });

  it('is [0, 1] with no examples and refuses impossible counts', () => {
    expect(wilsonInterval(0, 0)).toEqual({ low: 0, high: 1 });
    expect(() => wilsonInterval(11, 10)).toThrow('successes are 11, expected an integer in [0, 10]');
    expect(() => wilsonInterval(1, -1)).toThrow('count is -1, expected a non-negative integer');
    expect(() => shareInterval(Number.NaN, 10)).toThrow('share is NaN, expected a number in [0, 1]');
  });

  it('takes a share and its count: about +-9.8 points at 100 examples and 50%', () => {
    const interval = shareInterval(0.5, 100);
    expect(0.5 - interval.low).toBeCloseTo(0.0962, 4);
  });
});

describe('differenceInterval', () => {
  it("gives Newcombe's (1998) method-10 interval for 56/70 - 48/80: [0.0524, 0.3339]", () => {
    const interval = differenceInterval(56, 70, 48, 80);
    expect(interval.low).toBeCloseTo(0.0524, 4);
    expect(interval.high).toBeCloseTo(0.3339, 4);
  });
});

describe('fisherExact', () => {
  it.each([
    [[8, 2, 1, 5], 0.034965034965034975],
    [[7, 10, 2, 3], 1.0],
    [[10, 7, 2, 3], 0.6240601503759399],
    [[0, 5, 5, 0], 0.007936507936507938],
    [[3, 1, 1, 3], 0.48571428571428565],
    [[100, 20, 80, 40], 0.004385624132359844],
  ])('table %j: two-sided p %f as scipy', (table, p) => {
    const [a, b, c, d] = table;
    expect(fisherExact(a, b, c, d)).toBeCloseTo(p, 10);
  });

  it('is 1 when a margin is empty and refuses non-integer cells', () => {
    expect(fisherExact(0, 0, 3, 4)).toBe(1);
    expect(fisherExact(5, 0, 3, 0)).toBe(1);
    expect(() => fisherExact(1.5, 0, 3, 4)).toThrow('a 2x2 table cell is 1.5, expected a non-negative integer');
  });
});
