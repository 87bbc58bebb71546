/**
 * The one way attacks are written as text (CLI, study, scripts): KIND[@STEPS][xRESTARTS], e.g. "fgsm", "pgd@20",
 * "pgd@100x5", "apgd-ce@100", "square@5000x5" (@N is Square's queries). The result is AttackOptions passed to the library unchanged: defaults for what the
 * text leaves out are the library's (describeAttack / the addon), so attack kinds added later work everywhere.
 */
import { ATTACK_KINDS, AttackKind, AttackOptions } from '../attack';
import { invalidArgument } from '../errors';

const SPEC = /^([a-z][a-z0-9-]*)(?:@(\d+))?(?:x(\d+))?$/;

export const ATTACK_SPEC_HELP = 'KIND[@STEPS][xRESTARTS], e.g. fgsm, pgd@20, pgd@100x5';

/**
 * The spellings people write for "pgd@20" (the tables' "PGD-20", "pgd-20", "pgd20", "pgd_20") in the one form:
 * lower case, and a trailing step count after a kind joined by "@". Kinds whose name ends in digits do not exist,
 * so "apgd-ce-100" is "apgd-ce@100" and "apgd-ce" stays as it is.
 */
export function normalizeAttackSpec(text: string): string {
  const lower = String(text).trim().toLowerCase();
  if (SPEC.exec(lower) && !/\d$/.test(lower.split(/[@x]/)[0])) return lower;
  const joined = /^([a-z][a-z-]*?[a-z])[-_ ]?(\d+)((?:x\d+)?)$/.exec(lower);
  return joined ? `${joined[1]}@${joined[2]}${joined[3]}` : lower;
}

/**
 * Parses one attack; `fields` (eps and any other option) complete it. `option` names where the text came from
 * (e.g. "--attack") in errors.
 */
export function parseAttackSpec(text: string, fields: Omit<AttackOptions, 'kind'>, option = 'attack'): AttackOptions {
  const match = SPEC.exec(normalizeAttackSpec(text));
  if (!match) throw invalidArgument(`${option} "${text}" is not ${ATTACK_SPEC_HELP}`);
  const [, kind, steps, restarts] = match;
  if (!(ATTACK_KINDS as readonly string[]).includes(kind)) {
    throw invalidArgument(`${option} "${text}": unknown attack kind "${kind}"; accepted: ${ATTACK_KINDS.join(', ')}`);
  }
  // pgd@0 takes no step (at most a random start), so its "robust" accuracy is not that of an attack; x0 runs none.
  if (steps !== undefined && Number(steps) === 0) {
    throw invalidArgument(`${option} "${text}": ${kind === 'square' ? 'queries' : 'steps'} must be at least 1 (${kind}@0 takes no attack step); e.g. ${kind}@${kind === 'square' ? 5000 : 20}`);
  }
  if (restarts !== undefined && Number(restarts) === 0) throw invalidArgument(`${option} "${text}": restarts must be at least 1 (x0 runs no attack); e.g. ${kind}${steps !== undefined ? `@${steps}` : ''}x1`);
  const options: AttackOptions = { ...fields, kind: kind as AttackKind };
  // Square is score-based: its budget is queries, not steps.
  if (steps !== undefined) options[kind === 'square' ? 'queries' : 'steps'] = Number(steps);
  if (restarts !== undefined) options.restarts = Number(restarts);
  return options;
}

/** A comma-separated list of attacks, weakest first by convention. */
export function parseAttackList(text: string, fields: Omit<AttackOptions, 'kind'>, option = 'attacks'): AttackOptions[] {
  const attacks = String(text).split(',').filter((part) => part.trim() !== '').map((part) => parseAttackSpec(part, fields, option));
  if (attacks.length === 0) throw invalidArgument(`${option} is empty; expected ${ATTACK_SPEC_HELP}, comma-separated`);
  return attacks;
}
