#!/usr/bin/env node
/**
 * The classwise-at command line: `train`, `evaluate`, `study`, `launch` (their ranks) and `pack` (a packed dataset). A ClasswiseError (anything the user can fix)
 * prints one line; anything else is a bug and prints its stack.
 */
import { Command } from 'commander';

import { exitRank, stopWithLauncher } from '../distributed/rank-process';
import { ClasswiseError, ioError } from '../errors';
import { evaluateCommand } from './evaluate-command';
import { launchCommand } from './launch-command';
import { packCommand } from './pack-command';
import { stopAllProgress } from './progress';
import { studyCommand } from './study-command';
import { trainCommand } from './train-command';

export async function main(argv: string[]): Promise<void> {
  stopWithLauncher();
  const program = new Command('classwise-at')
    .description('adversarial training and class-wise robustness diagnosis of image classifiers')
    .showHelpAfterError('(add --help for the options and their defaults)')
    .addCommand(trainCommand())
    .addCommand(evaluateCommand())
    .addCommand(studyCommand())
    .addCommand(launchCommand())
    .addCommand(packCommand());
  let failed = false;
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (caught) {
    // A file-system failure that no layer named (a read, a folder) is still the user's to fix: one line.
    const path = (caught as NodeJS.ErrnoException)?.path;
    const error = path ? ioError(caught, 'use', path) : caught;
    if (error instanceof ClasswiseError) {
      // Under a launcher every rank may fail: say which one speaks.
      console.error(process.env.RANK !== undefined ? `error (rank ${process.env.RANK}): ${error.message}` : `error: ${error.message}`);
    } else {
      console.error((error as Error)?.stack ?? String(error));
    }
    process.exitCode = 1;
    failed = true;
  } finally {
    // A bar short of its total (skipped files, an error mid-epoch) would otherwise redraw forever.
    stopAllProgress();
  }
  // A failed rank may have a native thread still blocked in a collective with a dead or hung peer.
  if (failed && process.env.RANK !== undefined) exitRank(1);
}

if (require.main === module) {
  void main(process.argv.slice(2));
}
