/**
 * A dataset handed to the addon once: its uint8 images and labels are copied into native memory when the handle
 * is made, and every later train() epoch and evaluate() call reads them there instead of copying them again.
 * The handle is a snapshot: later changes to `images` are not seen by it.
 */
import { ImageDataset } from './dataset';
import { invalidArgument } from '../errors';
import { nativeAddon, NativeDatasetHandle } from '../native';

export type NativeImageSet<D extends Pick<ImageDataset, 'images' | 'labels' | 'shape' | 'count'> = ImageDataset> = D & {
  readonly native: NativeDatasetHandle;
};

/** Copies the set into the addon (once) and returns it with the handle beside its arrays. */
export function loadIntoNative<D extends Pick<ImageDataset, 'images' | 'labels' | 'shape' | 'count'> & { classNames?: string[] }>(data: D): NativeImageSet<D> {
  if (!data || typeof data !== 'object' || !(data.images instanceof Uint8Array) || !(data.labels instanceof Int32Array) || !Array.isArray(data.shape)) {
    throw invalidArgument('loadIntoNative needs a dataset { images: Uint8Array, labels: Int32Array, shape: [c, h, w] }');
  }
  if ('native' in data && (data as { native?: unknown }).native) return data as NativeImageSet<D>;
  const [channels, height, width] = data.shape;
  // Labels are checked natively against the class count (2^31 - 1 when the set names no classes).
  const classes = data.classNames?.length || 0x7fffffff;
  const native = new (nativeAddon().NativeDataset)({ images: data.images, labels: data.labels, channels, height, width, classes });
  return { ...data, native };
}

/** The data argument of a native call: the handle when there is one, else the arrays (copied by the call). */
export function nativeData(data: Pick<ImageDataset, 'images' | 'labels'> & { native?: NativeDatasetHandle }): { dataset: NativeDatasetHandle } | { images: Uint8Array; labels: Int32Array } {
  if (!data.native) return { images: data.images, labels: data.labels };
  if (data.native.count !== data.labels.length) {
    throw invalidArgument(`data.native holds ${data.native.count} images but data.labels has ${data.labels.length}: the handle belongs to another set (make one for this set with loadIntoNative)`);
  }
  return { dataset: data.native };
}
