/**
 * `classwise-at study fairness --runs A,B,C`: robust-fairness methods compared class by class on the same test
 * images and attacks; writes report.html, report.json (with `runs`) and csv/ into --out.
 */
import { Command, Option } from 'commander';
import path from 'path';

import { DeviceName } from '../model';
import { formatFindings, writeReport } from '../report/study-report';
import { ATTACK_SPEC_HELP } from '../run';
import { DEFAULT_FAIRNESS_ATTACKS, FairnessCheckpoint, fairnessReport, fairnessStudy } from '../study/fairness';
import { setDefaultProcessGroup } from '../distributed/group';
import { parseDevice, parseInteger, parseNumberIn, parsePerClass, perClassValue } from './parse';
import { addRankOptions, ComputeCliOptions, joinRanks } from './ranks';

interface FairnessCliOptions extends ComputeCliOptions {
  runs: string;
  baseline?: string;
  attacks: string;
  perClass?: number | 'all';
  eps?: number;
  out: string;
  cache?: string;
  checkpoints?: string;
}

export function fairnessCommand(): Command {
  return addRankOptions(new Command('fairness'))
    .description('robust-fairness methods side by side: every run\'s best, last (and FAWA) checkpoint on the same test images and attacks, class by class')
    .requiredOption('--runs <list>', 'run folders written by train, comma-separated (seeds of one method are grouped)')
    .option('--baseline <run>', 'the run (folder or its name) rho is measured against, with the runs sharing its settings (default: the first)')
    .option('--attacks <list>', `attacks, ${ATTACK_SPEC_HELP}, comma-separated; the last one is charted`, DEFAULT_FAIRNESS_ATTACKS)
    .addOption(new Option('--per-class <n|all>', 'test images per class (default: the runs\' evaluation subset, which must agree)').argParser(parsePerClass))
    .addOption(new Option('--eps <e>', 'attack budget (default: the runs\' eps, which must agree)').argParser(parseNumberIn(0, 1e6)))
    .option('--out <dir>', 'report folder', 'study-fairness')
    .option('--checkpoints <list>', 'which checkpoints of each run to evaluate, comma-separated: best, last, fawa (default: all three)')
    .option('--cache <dir>', 'folder of finished evaluations: one whose checkpoint bytes, attack, test images, seed, batch size and device match is read back, each new one written as it finishes (a rerun redoes only what is missing)')
    .addOption(new Option('--batch-size <n>', 'examples per native batch').default(256).argParser(parseInteger(1, 1 << 20)))
    .addOption(new Option('--seed <n>', 'seed of the attack noise; the test subset is drawn with seed + 1, as evaluate --seed draws it').default(0).argParser(parseInteger(0, 2 ** 31 - 1)))
    .addOption(new Option('--device <d>', 'auto | cpu | cuda | cuda:N').default('auto').argParser(parseDevice))
    .addOption(new Option('--threads <n>', 'CPU threads (default: all cores)').argParser(parseInteger(1, 1024)))
    .action(async (options: FairnessCliOptions) => {
      const ranks = await joinRanks(options);
      const log = ranks.leads ? (text: string) => console.log(`[study] ${text}`) : () => undefined;
      if (ranks.group) {
        setDefaultProcessGroup(ranks.group);
        log(ranks.describe()!);
      }
      const runs = options.runs.split(',').map((part) => part.trim()).filter((part) => part !== '');
      const study = await fairnessStudy({
        runs,
        baseline: options.baseline,
        attacks: options.attacks,
        perClass: perClassValue(options.perClass),
        eps: options.eps,
        seed: options.seed,
        batchSize: options.batchSize,
        cache: options.cache,
        checkpoints: options.checkpoints?.split(',').map((part) => part.trim()) as FairnessCheckpoint[] | undefined,
        device: ranks.group ? (ranks.device as DeviceName) : options.device,
        onStage: (text) => log(text),
      });
      if (!ranks.leads) return;
      const report = fairnessReport(study);
      const written = await writeReport(report, options.out);
      console.log('');
      console.log(formatFindings(report));
      console.log('');
      console.log(`report: ${written.html}`);
      console.log(`numbers: ${written.json}; ${written.csv.length} CSV files in ${path.join(options.out, 'csv')}`);
    });
}
