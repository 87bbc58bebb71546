/** A note when other processes already keep the CPU busy, so that slow epochs are explained. */
import os from 'os';

/**
 * The note when the load average is above the threads this run uses (half a thread of slack for the system),
 * else undefined (also where the load is unknown).
 */
export function cpuLoadNote(threads: number, cores = os.cpus().length, load = os.loadavg()[0]): string | undefined {
  if (!(load > threads + 0.5)) return undefined;
  return `note: the CPU is shared: load average ${load.toFixed(1)} over the last minute on ${cores} cores before this run's ${threads} threads; ` +
    'expect slower steps than on an idle machine (set --threads below the free cores, or wait)';
}
