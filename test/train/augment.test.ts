/** The native training augmentation: random crop with zero padding and horizontal flip, on whole uint8 batches. */
import { nativeAddon } from '../../src/native';
import { fixtureImages } from '../data/fixtures/official-formats';

const COUNT = 64;
const SHAPE = [COUNT, 3, 8, 8];
const PLANE = 64;
const images = fixtureImages(COUNT, 3, 8);

function augment(cropPadding: number, horizontalFlip: boolean, seed = 1): Uint8Array {
  return nativeAddon().augmentImages({ images, shape: SHAPE }, { cropPadding, horizontalFlip, seed });
}

/** Pixel (c, y, x) of image n, 0 outside the image (the zero padding). */
function source(n: number, c: number, y: number, x: number): number {
  return y < 0 || y >= 8 || x < 0 || x >= 8 ? 0 : images[((n * 3 + c) * 8 + y) * 8 + x];
}

/** The (dy, dx, flipped) that explain output image n, or undefined. */
function explain(out: Uint8Array, n: number, pad: number): { dy: number; dx: number; flipped: boolean } | undefined {
  for (const flipped of [false, true])
    for (let dy = -pad; dy <= pad; dy++)
      for (let dx = -pad; dx <= pad; dx++) {
        let matches = true;
        for (let c = 0; c < 3 && matches; c++)
          for (let y = 0; y < 8 && matches; y++)
            for (let x = 0; x < 8 && matches; x++) {
              const column = flipped ? 7 - x : x;
              matches = out[n * 3 * PLANE + c * PLANE + y * 8 + x] === source(n, c, y + dy, column + dx);
            }
        if (matches) return { dy, dx, flipped };
      }
  return undefined;
}

describe('augmentImages', () => {
  test('does nothing without padding or flip', () => {
    expect(Buffer.from(augment(0, false)).equals(Buffer.from(images))).toBe(true);
  });

  test('flip only: every image is itself or its mirror, and both happen', () => {
    const out = augment(0, true);
    const flips = Array.from({ length: COUNT }, (_, n) => explain(out, n, 0)!.flipped);
    expect(flips.filter(Boolean).length).toBeGreaterThan(COUNT / 4);
    expect(flips.filter((f) => !f).length).toBeGreaterThan(COUNT / 4);
  });

  test('crop with padding 2: every image is a shift by at most 2 with zeros entering, never flipped', () => {
    const out = augment(2, false);
    const shifts = Array.from({ length: COUNT }, (_, n) => explain(out, n, 2));
    expect(shifts.every((s) => s !== undefined && !s.flipped)).toBe(true);
    expect(new Set(shifts.map((s) => `${s!.dy},${s!.dx}`)).size).toBeGreaterThan(10);
  });

  test('crop and flip together are explained by one shift and one mirror per image', () => {
    const out = augment(3, true);
    expect(Array.from({ length: COUNT }, (_, n) => explain(out, n, 3)).every((s) => s !== undefined)).toBe(true);
  });

  test('is deterministic for a seed and changes with it', () => {
    expect(Buffer.from(augment(4, true, 7)).equals(Buffer.from(augment(4, true, 7)))).toBe(true);
    expect(Buffer.from(augment(4, true, 7)).equals(Buffer.from(augment(4, true, 8)))).toBe(false);
  });

  test('rejects a shape that does not match the bytes', () => {
    expect(() => nativeAddon().augmentImages({ images, shape: [COUNT, 3, 8, 7] }, { cropPadding: 1, horizontalFlip: false, seed: 0 })).toThrow(
      'augment data.shape must be [N, C, H, W] with N*C*H*W = images.length (12288)',
    );
  });
});

describe('interleavedToPlanar (decoder pixels into batch planes)', () => {
  test('writes each channel as a plane at the offset, leaving the rest of the buffer alone', () => {
    // Two pixels, RGB interleaved: (1,2,3) (4,5,6).
    const target = new Uint8Array(9).fill(99);
    nativeAddon().interleavedToPlanar(Uint8Array.of(1, 2, 3, 4, 5, 6), target, { offset: 2, channels: 3 });
    expect(Array.from(target)).toEqual([99, 99, 1, 4, 2, 5, 3, 6, 99]);
  });

  test('a source that does not fit the target is refused, not written past the end', () => {
    expect(() => nativeAddon().interleavedToPlanar(new Uint8Array(6), new Uint8Array(7), { offset: 2, channels: 3 })).toThrow(
      expect.objectContaining({ code: 'ERR_SHAPE_MISMATCH', message: 'interleavedToPlanar: source has 6 bytes for 3 channels, target has 7 bytes from offset 2' }),
    );
    expect(() => nativeAddon().interleavedToPlanar([1, 2, 3] as unknown as Uint8Array, new Uint8Array(3), { offset: 0, channels: 3 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
  });
});
