/** Every TypeScript snippet of the README type-checks against the library and runs to its end. */
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import ts from 'typescript';

import { FASHION_MNIST_CLASSES, Model } from '../src';

const root = path.resolve(__dirname, '..');
const snippets = [...fs.readFileSync(path.join(root, 'README.md'), 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]);

/** The snippet as a CommonJS module: its imports on top, the rest inside an async main (top-level await). */
function asModule(snippet: string): string {
  const lines = snippet.split('\n');
  const imports = lines.filter((line) => line.startsWith('import '));
  const body = lines.filter((line) => !line.startsWith('import '));
  return `${imports.join('\n')}\nasync function main(): Promise<void> {\n${body.join('\n')}\n}\nmain().catch((error) => { console.error(error); process.exitCode = 1; });\n`;
}

test('the README has a library example', () => {
  expect(snippets.length).toBeGreaterThan(0);
  expect(snippets.join('\n')).toContain('Model.load(');
});

describe.each(snippets.map((snippet, i) => [i + 1, snippet] as const))('README snippet %d', (_, snippet) => {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'readme-'));
  const file = path.join(folder, 'snippet.ts');
  fs.writeFileSync(file, asModule(snippet));

  test('type-checks', () => {
    const program = ts.createProgram([file], {
      strict: true, module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true, noEmit: true, skipLibCheck: true,
      baseUrl: folder, paths: { 'classwise-at': [path.join(root, 'src/index.ts')] }, types: ['node'], typeRoots: [path.join(root, 'node_modules/@types')],
    });
    const problems = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(problems).toEqual([]);
  });

  test('runs in a folder with the run npm start writes', async () => {
    // The checkpoint the snippet loads: a Fashion-MNIST model (untrained) with its run settings.
    const model = Model.create({ architecture: 'smallcnn', inputShape: [1, 28, 28], classNames: [...FASHION_MNIST_CLASSES], mean: [0.286], std: [0.353], device: 'cpu' });
    fs.mkdirSync(path.join(folder, 'runs/fashion-mnist-pgd'), { recursive: true });
    await model.save(path.join(folder, 'runs/fashion-mnist-pgd/best.safetensors'), { config: { run: { dataset: 'fashion-mnist', eps: 0.1 } } });
    fs.mkdirSync(path.join(folder, 'node_modules'), { recursive: true });
    fs.symlinkSync(root, path.join(folder, 'node_modules/classwise-at'), 'dir');
    const js = ts.transpileModule(fs.readFileSync(file, 'utf8'), { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } }).outputText;
    fs.writeFileSync(path.join(folder, 'snippet.js'), js);
    const result = spawnSync(process.execPath, ['snippet.js'], { cwd: folder, encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    for (const name of FASHION_MNIST_CLASSES) expect(result.stdout).toMatch(new RegExp(`^${name.replace('/', '\\/')} +clean \\d+\\.\\d% +robust \\d+\\.\\d%$`, 'm'));
    expect(result.stdout).toMatch(/^500 adversarial images, attack success \d+\.\d%$/m);
  });
});
