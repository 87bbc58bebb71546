#!/usr/bin/env node
/** The classwise-at command line: `train`, `evaluate` and `study`. Known failures print one line, no stack. */
import { Command } from 'commander';

import { evaluateCommand } from './evaluate-command';
import { studyCommand } from './study-command';
import { trainCommand } from './train-command';

export async function main(argv: string[]): Promise<void> {
  const program = new Command('classwise-at')
    .description('adversarial training and class-wise robustness diagnosis of image classifiers')
    .showHelpAfterError('(add --help for the options and their defaults)')
    .addCommand(trainCommand())
    .addCommand(evaluateCommand())
    .addCommand(studyCommand());
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    const err = error as Error & { code?: string };
    if (typeof err.code === 'string' && err.code.startsWith('ERR_')) {
      console.error(`error: ${err.message}`);
    } else {
      console.error(err.stack ?? String(err));
    }
    process.exitCode = 1;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2));
}
