import { Model } from '../../src';

/** Calls `onCall` with the method name and arguments of every native call the model makes (its addon object is read-only). */
export function watchNativeCalls(model: Model, onCall: (method: string, args: unknown[]) => void): void {
  const native = model.native;
  (model as unknown as { native: unknown }).native = new Proxy(native, {
    get: (target, key: string) => {
      const value = (target as unknown as Record<string, unknown>)[key];
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        onCall(key, args);
        return value.apply(target, args);
      };
    },
  });
}
