/** Image folders reached through symbolic links are followed: a linked file or class folder counts like a real one. */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { loadImageFolder } from '../../src/data';
import { IMAGENET_FIXTURE_CLASSES, writeImageNetFolder } from './fixtures/official-formats';
import { makeTempFolder } from './idx-fixtures';

const real = makeTempFolder();
const linked = makeTempFolder();
afterAll(() => {
  real.remove();
  linked.remove();
});

beforeAll(async () => {
  await writeImageNetFolder(real.folder, 4, 2);
});

test('symlinked image files and class folders are followed; a link loop is named', () => {
  const [first, second, third] = IMAGENET_FIXTURE_CLASSES.map((c) => c.wnid);
  const train = path.join(linked.folder, 'train');
  fs.mkdirSync(path.join(train, first), { recursive: true });
  // One class of linked files, one linked class folder, one real class folder.
  for (const name of fs.readdirSync(path.join(real.folder, 'train', first))) {
    fs.symlinkSync(path.join(real.folder, 'train', first, name), path.join(train, first, name));
  }
  fs.symlinkSync(path.join(real.folder, 'train', second), path.join(train, second));
  fs.cpSync(path.join(real.folder, 'train', third), path.join(train, third), { recursive: true });
  const dataset = loadImageFolder('train', linked.folder, { imageSize: 32 });
  expect(dataset.count).toBe(12);
  expect(Array.from(dataset.labels)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);

  const loop = path.join(train, third, 'loop.jpg');
  fs.symlinkSync(loop, loop);
  expect(() => loadImageFolder('train', linked.folder, { imageSize: 32 })).toThrow(
    `${loop} is a symbolic link that loops (ELOOP); remove it or point it at an image`);
});
