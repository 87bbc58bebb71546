/**
 * The Python whose torch is the addon's own LibTorch (runtimeInfo().torchPython, chosen when the addon was built;
 * CLASSWISE_REFERENCE_PYTHON overrides it). The PyTorch reference tests run it, so both sides are one version.
 * `npm test` installs it; a test that needs it fails with the reason rather than being skipped.
 */
import { spawnSync } from 'child_process';

import { runtimeInfo } from '../../src';

export const TORCH_PYTHON = process.env.CLASSWISE_REFERENCE_PYTHON || runtimeInfo().torchPython;

let checked: string | undefined;

/** The Python to run; throws when it is missing or its torch is not the addon's major.minor version. */
export function torchPython(): string {
  if (checked) return checked;
  const addonVersion = runtimeInfo().torchVersion;
  if (!TORCH_PYTHON) {
    throw new Error(`the addon was built against LibTorch ${addonVersion} (${runtimeInfo().torchFoundVia}) with no ` +
      'matching Python torch; set CLASSWISE_REFERENCE_PYTHON to a Python with that torch, or run `npm test`');
  }
  const probe = spawnSync(TORCH_PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  if (probe.status !== 0) throw new Error(`${TORCH_PYTHON} cannot import torch: ${probe.stderr.trim().split('\n').pop()}`);
  const majorMinor = (version: string) => version.split('.').slice(0, 2).join('.');
  if (majorMinor(probe.stdout.trim()) !== majorMinor(addonVersion)) {
    throw new Error(`${TORCH_PYTHON} has torch ${probe.stdout.trim()}, the addon LibTorch ${addonVersion}`);
  }
  checked = TORCH_PYTHON;
  return checked;
}
