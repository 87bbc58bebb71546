/** Class-wise mitigation settings given by class name or index: "shirt=2,coat=1.5,0=1.2". */
import { invalidArgument } from '../errors';

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
    const value = Number(match[2]);
    const index = /^\d+$/.test(key) ? Number(key) : classNames.indexOf(key);
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
