/**
 * How a rank process ends: with its launcher, and at once after its run failed. A rank whose peer died or hung can
 * have a native thread blocked in a collective or a store call; Node's exit (process.exit too) joins such threads
 * and would wait forever, so a failed rank ends without them.
 */
import { nativeAddon } from '../native';

/** Set by `classwise-at launch` in each rank's environment: the launcher's pid. */
export const LAUNCHER_PID_VARIABLE = 'CLASSWISE_LAUNCHER_PID';
const PARENT_POLL_MS = 1000;

/**
 * A rank started by `classwise-at launch` dies with it, even when the launcher is killed with SIGKILL: Linux's
 * parent-death signal, else a poll of the parent pid. Ranks of other launchers (torchrun, srun) are left to them.
 */
export function stopWithLauncher(env: NodeJS.ProcessEnv = process.env): void {
  const text = env[LAUNCHER_PID_VARIABLE];
  const launcher = Number(text);
  if (text === undefined || !Number.isInteger(launcher) || launcher <= 0) return;
  if (nativeAddon().exitWithParent(launcher)) return;
  setInterval(() => {
    if (process.ppid !== launcher) nativeAddon().exitNow(1);
  }, PARENT_POLL_MS).unref();
}

/** Ends a failed rank now: the 'exit' listeners run (they free the run folder's lock), native threads do not block. */
export function exitRank(code: number): never {
  process.emit('exit', code);
  return nativeAddon().exitNow(code);
}
