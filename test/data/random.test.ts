import { seededRandom, shuffledIndices } from '../../src/data/random';

describe('seededRandom', () => {
  it('gives floats in [0, 1)', () => {
    const draws = Array.from({ length: 10000 }, seededRandom(42));
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...draws)).toBeLessThan(1);
    // Roughly uniform: the mean of 10,000 draws is within a few standard errors (0.003) of 0.5.
    expect(Math.abs(draws.reduce((sum, value) => sum + value, 0) / draws.length - 0.5)).toBeLessThan(0.015);
  });

  it('gives the same sequence for the same seed, pinned so a change of generator is noticed', () => {
    const first = Array.from({ length: 3 }, seededRandom(1));
    const second = Array.from({ length: 3 }, seededRandom(1));
    expect(first).toEqual(second);
    // Outputs of the reference mulberry32 (github.com/bryc/code, jshash/PRNGs.md) for seed 1.
    expect(first.map((value) => value * 2 ** 32)).toEqual([2693262067, 11749833, 2265367787]);
  });

  it('rejects a seed that is not an integer', () => {
    expect(() => seededRandom(0.5)).toThrow(new RangeError('seed must be an integer, got 0.5'));
  });
});

describe('shuffledIndices', () => {
  it('is a permutation of 0..n-1', () => {
    const indices = shuffledIndices(1000, 7);
    expect(indices).toBeInstanceOf(Int32Array);
    expect(Array.from(indices).sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, index) => index));
  });

  it('is the same for the same seed and different for different seeds', () => {
    expect(Array.from(shuffledIndices(100, 3))).toEqual(Array.from(shuffledIndices(100, 3)));
    expect(Array.from(shuffledIndices(100, 3))).not.toEqual(Array.from(shuffledIndices(100, 4)));
  });

  it('actually moves elements', () => {
    const indices = shuffledIndices(100, 3);
    const inPlace = indices.filter((value, position) => value === position).length;
    expect(inPlace).toBeLessThan(10);
  });

  it('handles empty and single-element inputs', () => {
    expect(Array.from(shuffledIndices(0, 1))).toEqual([]);
    expect(Array.from(shuffledIndices(1, 1))).toEqual([0]);
  });

  it('rejects a negative or fractional count', () => {
    expect(() => shuffledIndices(-1, 1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => shuffledIndices(2.5, 1)).toThrow('count must be an integer in [0, 2^31), got 2.5');
  });
});
