/**
 * A tiny ImageNet-format folder of solid-colour JPEGs and a SmallCNN whose predictions vary on it: what the
 * streamed-evaluation tests share.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { Model } from '../../src';
import { seededRandom } from '../../src/data';

/**
 * `root/split/wnid/i.JPEG`, `perClass` images of 32-36 x 32 pixels for each wnid, in colours that overlap between
 * classes so that an untrained model gets some right and some wrong. `greenShift` tells splits apart.
 */
export async function writeColourJpegs(root: string, split: string, wnids: string[], perClass: number, greenShift = 0): Promise<void> {
  const sharp = require('sharp') as typeof import('sharp');
  for (const [label, wnid] of wnids.entries()) {
    fs.mkdirSync(path.join(root, split, wnid), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const background = { r: (37 * i + 90 * label) % 256, g: (53 * i + greenShift) % 256, b: (71 * i + 40 * label) % 256 };
      const image = await sharp({ create: { width: 32 + (i % 5), height: 32, channels: 3, background } }).jpeg().toBuffer();
      fs.writeFileSync(path.join(root, split, wnid, `${i}.JPEG`), image);
    }
  }
}

/** A SmallCNN on 3 x 32 x 32 images whose last layer is seeded: it starts at zero, every prediction class 0. */
export async function seededSmallCnn(classNames: string[]): Promise<Model> {
  const model = Model.create({ architecture: 'smallcnn', inputShape: [3, 32, 32], classNames, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], device: 'cpu' });
  const state = await model.state();
  const last = state['classifier.fc3.weight'].data;
  const weights = new Float32Array(last.buffer, last.byteOffset, last.byteLength / 4);
  const random = seededRandom(7);
  for (let i = 0; i < weights.length; i++) weights[i] = random() - 0.5;
  await model.loadState(state);
  return model;
}
