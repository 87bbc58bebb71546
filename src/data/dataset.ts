/**
 * The one dataset interface: every reader returns in-memory splits of this shape.
 * Pixels stay uint8 (NCHW) so they cross into the addon without conversion; the addon scales them to [0,1].
 */
export interface ImageDataset {
  /** Dataset name as the CLI spells it, e.g. 'fashion-mnist'. */
  name: string;
  split: 'train' | 'test';
  /** count * channels * height * width bytes, NCHW order, 0..255. */
  images: Uint8Array;
  /** count labels, each in [0, classNames.length). */
  labels: Int32Array;
  /** [channels, height, width] */
  shape: [number, number, number];
  classNames: string[];
  count: number;
  /** Where the data came from (paths or package), for reports. */
  source: string;
}

/** Bytes per image of a dataset. */
export function imageSize(dataset: Pick<ImageDataset, 'shape'>): number {
  const [c, h, w] = dataset.shape;
  return c * h * w;
}
