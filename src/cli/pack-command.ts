/** `classwise-at pack`: one split of an image folder (ImageNet) into a packed dataset file (src/data/pack.ts). */
import { Command, Option } from 'commander';

import { writePack } from '../data/pack-writer';
import { parseChoice, parseInteger } from './parse';

/** Test hook: the process kills itself (SIGKILL) once this many blocks are on disk, as a crash would. */
const KILL_AFTER_BLOCKS = 'CLASSWISE_PACK_KILL_AFTER_BLOCKS';

export function packCommand(): Command {
  return new Command('pack')
    .description('pack one split of an ImageNet folder into a single file of page-aligned, checksummed blocks (read with train/evaluate --data-pack); an interrupted pack resumes')
    .addOption(new Option('--dataset <name>', 'dataset: imagenet').default('imagenet').argParser(parseChoice(['imagenet'] as const)))
    .requiredOption('--data-dir <dir>', 'the ImageNet folder (train/<wnid>/*.JPEG, val/)')
    .addOption(new Option('--split <split>', 'which split: train or val').makeOptionMandatory().argParser(parseChoice(['train', 'val'] as const)))
    .requiredOption('--out <file>', 'the pack to write (FILE.partial while it is written); e.g. DIR/imagenet-train.cwpack, found there without --data-pack')
    .addOption(new Option('--max-side <n>', 'longer side of the stored images at most n pixels (smaller images are kept as they are)').default(256).argParser(parseInteger(1, 8192)))
    .addOption(new Option('--quality <q>', 'JPEG quality of the re-encoded images').default(90).argParser(parseInteger(1, 100)))
    .addOption(new Option('--raw-below <n>', 'images whose longer side is below n are stored as raw RGB pixels').default(64).argParser(parseInteger(0, 8192)))
    .addOption(new Option('--image-size <n>', 'crop size the pack will be read at; --max-side must reach it').default(224).argParser(parseInteger(16, 1024)))
    .addOption(new Option('--block-kib <n>', 'target block size in KiB (a multiple of 4)').default(256).argParser(parseInteger(4, 65536)))
    .addOption(new Option('--on-decode-error <policy>', 'a file that fails to decode is fatal, or left out with a warning').default('fail').argParser(parseChoice(['fail', 'skip'] as const)))
    .action(async (options) => {
      const killAfter = process.env[KILL_AFTER_BLOCKS] ? Number(process.env[KILL_AFTER_BLOCKS]) : undefined;
      let reported = 0;
      const result = await writePack({
        dataset: options.dataset,
        dataDir: options.dataDir,
        split: options.split,
        out: options.out,
        maxSide: options.maxSide,
        quality: options.quality,
        rawBelow: options.rawBelow,
        imageSize: options.imageSize,
        blockBytes: options.blockKib * 1024,
        onDecodeError: options.onDecodeError,
        onSkip: (file, message) => console.log(`warning: skipped ${file}: ${message}`),
        onProgress: (done, total) => {
          // A line per tenth: a pack of ImageNet takes a while.
          if (done === total || Math.floor((10 * done) / total) > Math.floor((10 * reported) / total)) console.log(`packed ${done}/${total} images`);
          reported = done;
        },
        afterBlock: killAfter === undefined ? undefined : (blocks) => {
          if (blocks >= killAfter) process.kill(process.pid, 'SIGKILL');
        },
      });
      if (result.resumedBlocks > 0) console.log(`resumed ${options.out}.partial after its ${result.resumedBlocks} intact blocks`);
      console.log(`wrote ${result.file}: ${result.images} images in ${result.blocks} blocks, ${(result.bytes / 2 ** 20).toFixed(1)} MiB` +
        (result.skipped ? `, ${result.skipped} undecodable files left out` : ''));
    });
}
