/** The bench's command line: --help prints its usage; a wrong option is one line naming it, no stack trace. */
import { spawnSync } from 'child_process';
import path from 'path';

const bench = path.resolve(__dirname, '../../scripts/bench/run.js');
const run = (...args: string[]) => spawnSync(process.execPath, [bench, ...args], { encoding: 'utf8' });

test('--help prints the usage and runs nothing', () => {
  const result = run('--help');
  expect(result.status).toBe(0);
  expect(result.stdout).toMatch(/^`npm run bench`: each workload on the addon and on three PyTorch references/);
  expect(result.stdout).toContain('--only NAME[,..]         run only these workloads');
  expect(result.stderr).toBe('');
});

test('an unknown option or a missing value is one line naming it', () => {
  const unknown = run('--bogus');
  expect(unknown.status).toBe(2);
  expect(unknown.stderr).toBe("bench: Unknown option '--bogus'; see node scripts/bench/run.js --help\n");
  const missing = run('--rounds');
  expect(missing.status).toBe(2);
  expect(missing.stderr).toBe("bench: Option '--rounds <value>' argument missing; see node scripts/bench/run.js --help\n");
});
