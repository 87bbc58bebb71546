/** No progress display keeps a process alive: every bar stops when the command ends, on success or on error. */
import { spawnSync } from 'child_process';
import path from 'path';

const root = path.resolve(__dirname, '../..');

test('a bar left short of its total (a skipped file, an error) does not keep the process alive', () => {
  // 11 of 12 images, as after one skipped file; then a command that fails. The child must exit on its own.
  const script = `
    const { ProgressLine } = require('./dist/cli/progress');
    const { main } = require('./dist/cli/main');
    new ProgressLine('epoch 1/1').update({ done: 11, total: 12, correct: 0, lossSum: 0 });
    main(['train', '--epochs', 'x']);
  `;
  // A hard limit: a hang fails the test (status null, killed) instead of hanging the suite.
  const child = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', timeout: 30000 });
  expect(child.signal).toBeNull();
  expect(child.status).toBe(1);
  expect(child.stderr).toContain("error: option '--epochs <n>' argument 'x' is invalid");
}, 40000);
