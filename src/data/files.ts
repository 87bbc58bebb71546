/** File lookups shared by the readers: a file in one of several folders, or a clear "missing" error. */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { DatasetError } from './errors';

/** The first folder among `candidates` that holds `marker`, or undefined. */
export function folderHolding(candidates: string[], marker: string): string | undefined {
  return candidates.find((folder) => fs.existsSync(path.join(folder, marker)));
}

export function requireFolder(folder: string, displayName: string, layout: string): void {
  const stats = fs.statSync(folder, { throwIfNoEntry: false });
  if (!stats?.isDirectory()) {
    throw new DatasetError(
      'ERR_DATASET_MISSING',
      `${displayName} ${stats ? 'path is not a folder' : 'folder not found'}: ${folder} (expected under --data-dir: ${layout})`,
    );
  }
}

export function readRequiredFile(filePath: string, displayName: string, layout: string): Buffer {
  if (!fs.existsSync(filePath)) {
    throw new DatasetError('ERR_DATASET_MISSING', `${displayName} file not found: ${filePath} (expected under --data-dir: ${layout})`);
  }
  return fs.readFileSync(filePath);
}

/** Non-empty trimmed lines of a class-names file. */
export function nameLines(text: string): string[] {
  return text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '');
}
