/** `classwise-at launch`: runs train, evaluate or study as several ranks on this machine, as torchrun does. */
import { Command, Option } from 'commander';

import { launch } from '../distributed/launch';
import { invalidArgument } from '../errors';
import { parseInteger } from './parse';

const LAUNCHABLE = ['train', 'evaluate', 'study'];

export function launchCommand(): Command {
  return new Command('launch')
    .description('data parallelism: start --nproc-per-node ranks of a classwise-at command on this machine (torchrun\'s environment contract), e.g. launch --nproc-per-node 2 -- train --epochs 3')
    .usage('--nproc-per-node N [--nnodes M --node-rank R --master-addr A --master-port P] -- <train|evaluate|study> [options]')
    .addOption(new Option('--nproc-per-node <n>', 'ranks on this machine (one per GPU, or CPU processes sharing the cores)').makeOptionMandatory().argParser(parseInteger(1, 1024)))
    .addOption(new Option('--nnodes <m>', 'machines in the run').default(1).argParser(parseInteger(1, 1 << 16)))
    .addOption(new Option('--node-rank <r>', 'this machine\'s index, 0 .. nnodes - 1 (node 0 hosts the rendezvous store)').default(0).argParser(parseInteger(0, 1 << 16)))
    .option('--master-addr <host>', 'address of node 0, reachable from every node', '127.0.0.1')
    .addOption(new Option('--master-port <port>', 'port of the rendezvous store on node 0 (default: a free port on one machine, 29500 on several)').argParser(parseInteger(1, 65535)))
    // After `--` everything is the rank's command line, its options included.
    .argument('<command...>', 'train, evaluate or study and its options, after --')
    .action(async (command: string[], options) => {
      if (!LAUNCHABLE.includes(command[0])) {
        throw invalidArgument(`launch runs one of ${LAUNCHABLE.join(', ')} (after --), got "${command[0]}"; e.g. classwise-at launch --nproc-per-node 2 -- train --epochs 3`);
      }
      const result = await launch({
        nprocPerNode: options.nprocPerNode,
        nnodes: options.nnodes,
        nodeRank: options.nodeRank,
        masterAddr: options.masterAddr,
        masterPort: options.masterPort,
        command: process.execPath,
        args: [...process.execArgv, require.main?.filename ?? __filename.replace(/launch-command\.js$/, 'main.js'), ...command],
      });
      if (result.failure) {
        const stopped = result.stopped?.length
          ? ` after rank${result.stopped.length > 1 ? 's' : ''} ${result.stopped.join(', ')} stopped answering (${result.stopped.length > 1 ? 'their processes were' : 'its process was'} stopped)`
          : '';
        console.error(`error: classwise-at launch: rank ${result.failure.rank} ${result.failure.how}${stopped}; the run stopped (its error, if it printed one, is above)`);
      }
      process.exitCode = result.exitCode;
    });
}
