/**
 * Packed datasets (src/data/pack.ts, pack-writer.ts): every image and label back, the page-local shuffle, a pack
 * killed mid-write resuming to the same bytes, and each bad input named with its fix.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { decodeBatch, loadFolderDataset, loadImageFolder, openPack, pageLocalOrder, restrictToClasses, writePack } from '../../src/data';
import { makeTempFolder } from './idx-fixtures';

const ROOT = path.join(__dirname, '..', '..');
const CLASSES = ['n01', 'n02', 'n03'];
let temp: ReturnType<typeof makeTempFolder>;
type Sharp = typeof import('sharp');
const sharp = require('sharp') as Sharp;

/** Train images of varied sizes (some below --raw-below), a flat val folder with its label file. */
async function writeFolder(root: string, classes: string[], perClass: number): Promise<void> {
  for (const [label, wnid] of classes.entries()) {
    fs.mkdirSync(path.join(root, 'train', wnid), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const width = i % 4 === 0 ? 20 + i : 60 + 7 * i;
      const height = i % 4 === 0 ? 16 + i : 50 + 3 * i;
      const image = sharp({ create: { width, height, channels: 3, background: { r: 80 * label, g: 20 * i, b: 200 - 60 * label } } })
        .composite([{ input: { create: { width: Math.ceil(width / 2), height: Math.ceil(height / 3), channels: 3, background: { r: 255, g: 255 - 30 * i, b: 0 } } }, left: 0, top: 0 }]);
      fs.writeFileSync(path.join(root, 'train', wnid, `${wnid}_${i}.JPEG`), await image.jpeg({ quality: 95 }).toBuffer());
    }
  }
  fs.mkdirSync(path.join(root, 'val'), { recursive: true });
  const lines: string[] = [];
  for (let i = 0; i < 2 * classes.length; i++) {
    fs.copyFileSync(path.join(root, 'train', classes[i % classes.length], `${classes[i % classes.length]}_${1 + (i % 3)}.JPEG`), path.join(root, 'val', `v${i}.JPEG`));
    lines.push(`v${i}.JPEG ${classes[i % classes.length]}`);
  }
  fs.writeFileSync(path.join(root, 'val_labels.txt'), lines.join('\n') + '\n');
}

function cli(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli', 'main.js'), ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
}

const PACK_OPTIONS = { dataset: 'imagenet', split: 'train' as const, maxSide: 48, quality: 90, rawBelow: 40, imageSize: 32, blockBytes: 4096 };

beforeAll(async () => {
  temp = makeTempFolder();
  await writeFolder(path.join(temp.folder, 'in'), CLASSES, 8);
});
afterAll(() => temp.remove());

describe('pack round trip', () => {
  test('every image and label comes back, raw ones exactly, JPEGs within their re-encoding', async () => {
    const dataDir = path.join(temp.folder, 'in');
    const out = path.join(temp.folder, 'round.cwpack');
    const result = await writePack({ ...PACK_OPTIONS, dataDir, out });
    const folder = loadImageFolder('train', dataDir);
    expect(result.images).toBe(folder.count);
    expect(result.blocks).toBeGreaterThan(2);
    const pack = openPack(out, { dataset: 'imagenet', split: 'train', classIds: CLASSES });
    expect(pack.header.classIds).toEqual(CLASSES);
    expect(Array.from(pack.sources).sort((a, b) => a - b)).toEqual(Array.from({ length: folder.count }, (_, i) => i));
    // Header and blocks page-aligned, then the index (32 bytes an image, 16 a block) and the 64-byte trailer.
    expect((fs.statSync(out).size - 64 - 32 * pack.count - 16 * pack.blockOffsets.length) % 4096).toBe(0);
    for (const offset of pack.blockOffsets) expect(offset % 4096).toBe(0);
    let raw = 0;
    const bytes = fs.readFileSync(out);
    for (let i = 0; i < pack.count; i++) {
      const source = pack.sources[i];
      expect(pack.labels[i]).toBe(folder.labels[source]);
      const expected = await sharp(folder.files[source]).resize(48, 48, { fit: 'inside', withoutEnlargement: true }).raw().toBuffer({ resolveWithObject: true });
      expect([pack.widths[i], pack.heights[i]]).toEqual([expected.info.width, expected.info.height]);
      const stored = bytes.subarray(pack.offsets[i], pack.offsets[i] + pack.lengths[i]);
      if (pack.raw[i]) {
        raw++;
        expect(Buffer.compare(stored, expected.data)).toBe(0);
      } else {
        const decoded = await sharp(stored).raw().toBuffer();
        let difference = 0;
        for (let v = 0; v < decoded.length; v++) difference += Math.abs(decoded[v] - expected.data[v]);
        expect(difference / decoded.length).toBeLessThan(3);
      }
    }
    expect(raw).toBeGreaterThan(0);
    expect(raw).toBeLessThan(pack.count);
  });

  test('decodes through the native pipeline as the folder does, example for example, training crops seeded alike', async () => {
    const dataDir = path.join(temp.folder, 'in');
    const out = path.join(temp.folder, 'round.cwpack');
    const packed = loadFolderDataset('imagenet', 'train', { dataDir, dataPacks: [out], imageSize: 32 });
    expect(packed.source).toContain(`pack ${out}`);
    const all = Int32Array.from({ length: packed.count }, (_, i) => i);
    const viaNative = await decodeBatch(packed, all, { augment: false, threads: 2 });
    const viaSharp = await decodeBatch(packed, all, { augment: false, decoder: 'sharp' });
    expect(Array.from(viaNative.labels)).toEqual(Array.from(packed.labels));
    let difference = 0;
    for (let v = 0; v < viaNative.images.length; v++) difference += Math.abs(viaNative.images[v] - viaSharp.images[v]);
    // Several of these images are upsampled from 20x16 to 32x32, where the two resamplers part most.
    expect(difference / viaNative.images.length).toBeLessThan(3);
    // Training crops depend on (seed, example) only: a batch in another order gives the same images.
    const forward = await decodeBatch(packed, all, { augment: true, seed: 5, threads: 2 });
    const reversed = await decodeBatch(packed, all.slice().reverse(), { augment: true, seed: 5, threads: 1 });
    const side = 3 * 32 * 32;
    for (let k = 0; k < all.length; k++) {
      expect(Buffer.compare(Buffer.from(forward.images.subarray(k * side, (k + 1) * side)), Buffer.from(reversed.images.subarray((all.length - 1 - k) * side, (all.length - k) * side)))).toBe(0);
    }
    // A class subset of a pack keeps its images' places in the pack.
    const subset = restrictToClasses(packed, ['n02']);
    const decoded = await decodeBatch(subset, Int32Array.from({ length: subset.count }, (_, i) => i), { augment: false });
    expect(decoded.count).toBe(8);
    expect(Array.from(decoded.labels)).toEqual(new Array(8).fill(0));
  });
});

describe('page-local shuffle', () => {
  test('is a permutation, the same for a seed, another for another seed, reading a window of blocks at a time', () => {
    const blockOf = Int32Array.from({ length: 504 }, (_, i) => Math.floor(i / 7));
    const order = pageLocalOrder(blockOf, 3, 4);
    expect(Array.from(order).sort((a, b) => a - b)).toEqual(Array.from({ length: 504 }, (_, i) => i));
    expect(Array.from(pageLocalOrder(blockOf, 3, 4))).toEqual(Array.from(order));
    expect(Array.from(pageLocalOrder(blockOf, 4, 4))).not.toEqual(Array.from(order));
    // Each run of 4 blocks' examples (28) touches exactly 4 blocks.
    for (let start = 0; start < 504; start += 28) {
      expect(new Set(Array.from(order.subarray(start, start + 28), (i) => blockOf[i])).size).toBe(4);
    }
  });
});

describe('resume', () => {
  test('a pack killed (SIGKILL) mid-write, even with a torn last block, resumes to the same bytes', () => {
    const dataDir = path.join(temp.folder, 'in');
    const whole = path.join(temp.folder, 'whole.cwpack');
    const killed = path.join(temp.folder, 'killed.cwpack');
    const args = (out: string) => ['pack', '--data-dir', dataDir, '--split', 'train', '--out', out, '--max-side', '48', '--raw-below', '40', '--image-size', '32', '--block-kib', '4'];
    const first = cli(args(whole));
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    const crash = cli(args(killed), { CLASSWISE_PACK_KILL_AFTER_BLOCKS: '3' });
    expect(crash.signal).toBe('SIGKILL');
    expect(fs.existsSync(killed)).toBe(false);
    // A write cut short: the third block loses its end.
    const partial = fs.readFileSync(`${killed}.partial`);
    fs.truncateSync(`${killed}.partial`, partial.lastIndexOf(Buffer.from('CWBK')) + 100);
    const resumed = cli(args(killed));
    expect(resumed.stderr).toBe('');
    expect(resumed.stdout).toContain(`resumed ${killed}.partial after its 2 intact blocks`);
    expect(Buffer.compare(fs.readFileSync(killed), fs.readFileSync(whole))).toBe(0);
    expect(fs.existsSync(`${killed}.partial`)).toBe(false);
    // A partial pack is resumed only with the settings it was started with.
    expect(cli(args(killed), { CLASSWISE_PACK_KILL_AFTER_BLOCKS: '1' }).signal).toBe('SIGKILL');
    const other = cli([...args(killed), '--quality', '80']);
    expect(other.status).toBe(1);
    expect(other.stderr.trim()).toBe(`error: ${killed}.partial is an unfinished pack of other settings or files (its header differs); delete it to start over, or rerun with the options it was started with`);
  });
});

describe('train and evaluate read packs', () => {
  test('packs found in --data-dir are read, and the run header names them', () => {
    const dataDir = path.join(temp.folder, 'packed');
    fs.cpSync(path.join(temp.folder, 'in'), dataDir, { recursive: true });
    for (const split of ['train', 'val']) {
      const packed = cli(['pack', '--data-dir', dataDir, '--split', split, '--out', path.join(dataDir, `imagenet-${split}.cwpack`), '--max-side', '48', '--image-size', '32']);
      expect(packed.stderr).toBe('');
    }
    const out = path.join(temp.folder, 'run');
    const trained = cli(['train', '--dataset', 'imagenet', '--arch', 'smallcnn', '--data-dir', dataDir, '--image-size', '32', '--batch-size', '4', '--chunk-batches', '1', '--train-per-class', '2', '--eval-per-class', '1',
      '--epochs', '1', '--threads', '2', '--eval-steps', '1', '--out', out]);
    expect(trained.stderr).not.toMatch(/error/i);
    expect(trained.status).toBe(0);
    expect(trained.stdout).toContain(`from pack ${path.join(dataDir, 'imagenet-train.cwpack')} (format 1, 24 images`);
    const evaluated = cli(['evaluate', '--checkpoint', out, '--attack', 'none', '--threads', '2']);
    expect(evaluated.stderr).not.toMatch(/error/i);
    expect(evaluated.stdout).toContain(`data: 6 imagenet test images streamed from pack ${path.join(dataDir, 'imagenet-val.cwpack')}`);
    expect(evaluated.stdout).toContain('per-class accuracy on 6 imagenet test images');
    // --data-pack names a pack anywhere; it serves the split its header names.
    const elsewhere = path.join(temp.folder, 'elsewhere.cwpack');
    fs.copyFileSync(path.join(dataDir, 'imagenet-val.cwpack'), elsewhere);
    const named = cli(['evaluate', '--checkpoint', out, '--attack', 'none', '--threads', '2', '--data-pack', elsewhere]);
    expect(named.stderr).not.toMatch(/error/i);
    expect(named.stdout).toContain(`data: 6 imagenet test images streamed from pack ${elsewhere}`);
  });
});

describe('bad input', () => {
  const dataDir = () => path.join(temp.folder, 'in');
  const good = () => path.join(temp.folder, 'round.cwpack');

  test('a missing pack', () => {
    const missing = path.join(temp.folder, 'none.cwpack');
    expect(() => loadFolderDataset('imagenet', 'train', { dataPacks: [missing] })).toThrow(`pack ${missing} cannot be opened (ENOENT); write it with classwise-at pack --out ${missing}`);
  });

  test('a truncated pack', () => {
    const cut = path.join(temp.folder, 'cut.cwpack');
    fs.writeFileSync(cut, fs.readFileSync(good()).subarray(0, 20000));
    expect(() => openPack(cut)).toThrow(`${cut}: truncated (20000 bytes, no index at its end); write it again with classwise-at pack; an interrupted pack resumes from ${cut}.partial`);
  });

  test('a block whose checksum fails', async () => {
    const damaged = path.join(temp.folder, 'damaged.cwpack');
    const bytes = fs.readFileSync(good());
    const pack = openPack(good());
    bytes[pack.offsets[0] + 5] ^= 0xff;
    fs.writeFileSync(damaged, bytes);
    const data = loadFolderDataset('imagenet', 'train', { dataPacks: [damaged], imageSize: 32 });
    const block = pack.blockOf[0];
    await expect(decodeBatch(data, Int32Array.from([0]), { augment: false })).rejects.toThrow(
      `${damaged}: block ${block} (bytes ${pack.blockOffsets[block]}..${pack.blockOffsets[block] + pack.blockLengths[block]}) fails its checksum; the file is damaged: write it again with classwise-at pack`,
    );
  });

  test('a pack of another class list, version, split or dataset', async () => {
    const other = path.join(temp.folder, 'other');
    await writeFolder(other, ['n01', 'n02', 'n09'], 4);
    expect(() => loadFolderDataset('imagenet', 'train', { dataDir: other, dataPacks: [good()], imageSize: 32 })).toThrow(
      `${good()}: a pack of another class list (3 classes, 1 class(es) missing (n09), 1 extra (n03)); pack the same --data-dir again (write it again with classwise-at pack)`,
    );
    const versioned = path.join(temp.folder, 'v9.cwpack');
    const bytes = fs.readFileSync(good());
    bytes.writeUInt32LE(9, 8);
    fs.writeFileSync(versioned, bytes);
    expect(() => openPack(versioned)).toThrow(`${versioned}: pack format version 9, this classwise-at reads version 1; write it again with classwise-at pack`);
    expect(() => openPack(good(), { split: 'val' })).toThrow(`${good()}: a pack of the train split, not val; pass the val pack (classwise-at pack --split val)`);
    expect(() => openPack(good(), { imageSize: 64 })).toThrow(`${good()}: images packed with --max-side 48, below the crop size 64; write it again with classwise-at pack with --max-side 74 or more`);
    const renamed = path.join(temp.folder, 'renamed.cwpack');
    const header = fs.readFileSync(good());
    header.write('"dataset":"imagenex"', header.indexOf('"dataset":"imagenet"'), 'latin1');
    fs.writeFileSync(renamed, header);
    expect(() => openPack(renamed, { dataset: 'imagenet' })).toThrow(`${renamed}: a pack of dataset "imagenex", not imagenet; pass a pack of imagenet or write it again with classwise-at pack`);
    const text = path.join(temp.folder, 'text.cwpack');
    fs.writeFileSync(text, 'hello, not a pack at all');
    expect(() => openPack(text)).toThrow(`${text}: not a classwise-at pack (no CWATPACK header); pass a file written by classwise-at pack, or write it again with classwise-at pack`);
  });

  test('--max-side below the crop size, zero-byte and non-image files: one line naming the file and the fix', () => {
    const out = path.join(temp.folder, 'bad.cwpack');
    const small = cli(['pack', '--data-dir', dataDir(), '--split', 'train', '--out', out, '--max-side', '100']);
    expect(small.status).toBe(1);
    expect(small.stderr.trim()).toBe('error: --max-side 100 is below the crop size 224; pass --max-side 256 or more (or a smaller --image-size)');
    const broken = path.join(temp.folder, 'broken');
    fs.cpSync(dataDir(), broken, { recursive: true });
    const empty = path.join(broken, 'train', 'n02', 'n02_9.JPEG');
    fs.writeFileSync(empty, '');
    const args = ['pack', '--data-dir', broken, '--split', 'train', '--out', out, '--max-side', '48', '--image-size', '32'];
    const zero = cli(args);
    expect(zero.status).toBe(1);
    expect(zero.stderr.trim()).toMatch(new RegExp(`^error: ${empty.replace(/[.]/g, '\\.')} could not be decoded \\(.+\\); expected a JPEG/PNG image\\. Remove or replace the file, or pass --on-decode-error skip to leave such files out of the pack with a warning$`));
    fs.writeFileSync(empty, 'plain text, not an image');
    const text = cli(args);
    expect(text.status).toBe(1);
    expect(text.stderr).toContain(`error: ${empty} could not be decoded`);
    fs.rmSync(`${out}.partial`, { force: true });
    const skipped = cli([...args, '--on-decode-error', 'skip']);
    expect(skipped.status).toBe(0);
    expect(skipped.stdout).toContain(`warning: skipped ${empty}`);
    expect(skipped.stdout).toContain('wrote');
    expect(openPack(out).count).toBe(24);
  });
});
