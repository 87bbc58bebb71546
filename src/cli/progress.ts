/** Terminal progress for native work: a bar with images/s while an epoch or an evaluation runs. */
import cliProgress from 'cli-progress';

import { NativeProgress } from '../native';

/** Bars still drawing: their redraw timer keeps Node alive, so the command stops them all when it ends. */
const liveBars = new Set<ProgressLine>();

/** Stops every bar (main calls this when a command ends, however it ends). */
export function stopAllProgress(): void {
  for (const bar of [...liveBars]) bar.stop();
}

export class ProgressLine {
  private bar?: cliProgress.SingleBar;
  private started = 0;

  constructor(private readonly label: string) {}

  update(progress: NativeProgress): void {
    if (!this.bar) {
      this.started = Date.now();
      this.bar = new cliProgress.SingleBar(
        {
          format: `${this.label} |{bar}| {value}/{total} images | {speed} img/s | loss {loss} | acc {accuracy}% | eta {eta_formatted}`,
          barsize: 24,
          hideCursor: true,
          noTTYOutput: true,
          notTTYSchedule: 15000,
          etaBuffer: 50,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(progress.total, 0, { speed: '-', loss: '-', accuracy: '-' });
      liveBars.add(this);
    }
    const seconds = (Date.now() - this.started) / 1000;
    this.bar.update(progress.done, {
      speed: seconds > 0 ? (progress.done / seconds).toFixed(0) : '-',
      loss: progress.correct || progress.lossSum ? (progress.lossSum / Math.max(1, progress.done)).toFixed(3) : '-',
      accuracy: progress.correct || progress.lossSum ? ((100 * progress.correct) / Math.max(1, progress.done)).toFixed(1) : '-',
    });
    if (progress.done >= progress.total) this.stop();
  }

  stop(): void {
    liveBars.delete(this);
    this.bar?.stop();
    this.bar = undefined;
  }
}
