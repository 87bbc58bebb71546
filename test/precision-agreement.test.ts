/**
 * The default fast path ('auto': bf16 + channels_last on a CPU with fast bf16, fp32 elsewhere) agrees with the
 * exact reference (fp32 + contiguous) on a fixed model and fixed images: per class, clean and robust accuracy under
 * 'auto' lie inside the 95% Wilson interval of the fp32 share. 'fp32' + 'contiguous' is what a call that names them runs.
 */
import { attack, evaluate, loadMnistSample, Model, takeFirst } from '../src';
import { autoFastPath, nativeFastPath } from '../src/fast-path';
import { shareInterval } from '../src/study/proportions';
import { mnistTestDigits, standardTrainedMnistModel } from './helpers/mnist-model';

const digits = takeFirst(loadMnistSample('test'), 500);
const PGD = { kind: 'pgd' as const, eps: 0.1, steps: 10 };

let model: Model;

beforeAll(async () => {
  model = await standardTrainedMnistModel();
}, 900_000);

describe("'auto' is the default and agrees with fp32", () => {
  it("runs what 'auto' picks when a call names no precision, and fp32 + contiguous when it names them", async () => {
    const auto = autoFastPath('cpu');
    const byDefault = await evaluate(model, takeFirst(digits, 32), { attack: PGD });
    expect({ precision: byDefault.precision, memoryFormat: byDefault.memoryFormat }).toEqual({ precision: auto.precision, memoryFormat: auto.memoryFormat });
    const reference = await evaluate(model, takeFirst(digits, 32), { attack: PGD, precision: 'fp32', memoryFormat: 'contiguous' });
    expect({ precision: reference.precision, memoryFormat: reference.memoryFormat }).toEqual({ precision: 'fp32', memoryFormat: 'contiguous' });
  });

  it("keeps fp32 for AutoAttack under 'auto' and honours an explicit bf16", async () => {
    expect(nativeFastPath(undefined, 'autoattack')).toEqual({ precision: 'fp32', memoryFormat: 'auto' });
    expect(nativeFastPath({ precision: 'auto' }, 'autoattack').precision).toBe('fp32');
    expect(nativeFastPath({ precision: 'bf16' }, 'autoattack').precision).toBe('bf16');
    expect(nativeFastPath(undefined, 'pgd')).toEqual({ precision: 'auto', memoryFormat: 'auto' });
    const { images, labels } = mnistTestDigits(8);
    const result = await attack(model, images, labels, { kind: 'autoattack', eps: 0.1, steps: 2, targetClasses: 2, queries: 5 });
    expect(result.precision).toBe('fp32');
  });

  it('per class, clean and PGD-10 robust accuracy under auto lie inside the 95% interval of fp32', async () => {
    const fp32 = await evaluate(model, digits, { attack: PGD, seed: 2, precision: 'fp32', memoryFormat: 'contiguous' });
    const auto = await evaluate(model, digits, { attack: PGD, seed: 2 });
    fp32.classNames.forEach((_, k) => {
      for (const field of ['cleanAccuracy', 'robustAccuracy'] as const) {
        const interval = shareInterval(fp32[field][k], fp32.counts[k]);
        expect(auto[field][k]).toBeGreaterThanOrEqual(interval.low);
        expect(auto[field][k]).toBeLessThanOrEqual(interval.high);
      }
    });
  });
});
