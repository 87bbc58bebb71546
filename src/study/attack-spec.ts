/**
 * Attacks as values: the study passes AttackOptions through to attack()/evaluate() unchanged, so attack
 * kinds added to the library later (CW, APGD, ...) work here without changes. On the command line an
 * attack is written KIND[@STEPS][xRESTARTS], e.g. "fgsm", "pgd@20", "pgd@100x5", "apgd-ce@100".
 */
import { AttackOptions, describeAttack, toNativeAttack } from '../attack';
import { studyError } from './run-folder';

const SPEC = /^([a-z][a-z0-9-]*)(?:@(\d+))?(?:x(\d+))?$/;

export function parseAttackSpec(text: string, eps: number): AttackOptions {
  const match = SPEC.exec(text.trim());
  if (!match) {
    throw studyError(`attack "${text}" is not KIND[@STEPS][xRESTARTS], e.g. fgsm, pgd@20, pgd@100x5`, 'ERR_INVALID_ARGUMENT');
  }
  const [, kind, steps, restarts] = match;
  const options = { kind, eps } as AttackOptions;
  if (steps !== undefined) options.steps = Number(steps);
  if (restarts !== undefined) options.restarts = Number(restarts);
  return options;
}

export function parseAttackList(text: string, eps: number): AttackOptions[] {
  return text.split(',').filter((part) => part.trim() !== '').map((part) => parseAttackSpec(part, eps));
}

/** The attack's label in reports: the library's own description. */
export function attackLabel(options: AttackOptions): string {
  return describeAttack(options);
}

