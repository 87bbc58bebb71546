/** Class-wise mitigation settings given by class name or index: "shirt=2,coat=1.5,0=1.2". */
import { invalidArgument } from '../errors';

/** The index of a class name, matched exactly first, then case-insensitively; -1 when none matches. */
export function classIndexByName(classNames: readonly string[], name: string): number {
  const exact = classNames.indexOf(name);
  if (exact >= 0) return exact;
  const lower = name.toLowerCase();
  return classNames.findIndex((candidate) => candidate.toLowerCase() === lower);
}

/** A number, or a fraction of two numbers such as "8/255"; NaN when it is neither. */
export function parseFraction(text: string): number {
  const trimmed = String(text).trim();
  const fraction = /^([^/]+)\/([^/]+)$/.exec(trimmed);
  if (fraction) {
    const [numerator, denominator] = [fraction[1], fraction[2]].map((part) => (part.trim() === '' ? NaN : Number(part)));
    return denominator === 0 ? NaN : numerator / denominator;
  }
  return trimmed === '' ? NaN : Number(trimmed);
}

/**
 * One value per class: `fallback` everywhere, then each "class=value" entry of `spec`, where class is a
 * class name or a 0-based index. `what` names the setting in messages.
 */
export function parseClassValues(spec: string, classNames: readonly string[], fallback: number, what: string,
                                 range: [number, number]): number[] {
  const values = classNames.map(() => fallback);
  for (const entry of spec.split(',').map((part) => part.trim()).filter((part) => part !== '')) {
    const match = /^(.+)=([^=]+)$/.exec(entry);
    if (!match) throw invalidArgument(`${what}: "${entry}" is not of the form class=value (e.g. "shirt=2" or "6=2")`);
    const key = match[1].trim();
    const value = parseFraction(match[2]);
    // "shirt=2" names Shirt: class names match whatever their case.
    const index = /^\d+$/.test(key) ? Number(key) : classIndexByName(classNames, key);
    if (index < 0 || index >= classNames.length) {
      throw invalidArgument(`${what}: unknown class "${key}"; accepted: ${classNames.join(', ')} or an index 0-${classNames.length - 1}`);
    }
    if (!Number.isFinite(value) || value < range[0] || value > range[1]) {
      throw invalidArgument(`${what}: ${key}=${match[2]} is outside [${range[0]}, ${range[1]}]`);
    }
    values[index] = value;
  }
  return values;
}
