/**
 * A classifier living in the native addon: create it, save it as safetensors (with optimizer state and
 * run metadata), load it back.
 */
import { CHECKPOINT_FORMAT, CheckpointMeta, loadCheckpoint, saveCheckpoint, TensorMap } from './checkpoint';
import { CheckpointError } from './checkpoint/checkpoint-error';
import { nativeAddon, NativeModel, NativeModelInfo, NativeTensor } from './native';

export const ARCHITECTURES = ['smallcnn', 'preact-resnet18', 'wide-resnet34-10', 'resnet50'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];
export type DeviceName = 'auto' | 'cpu' | 'cuda' | `cuda:${number}`;

/** Everything needed to rebuild the network; stored in every checkpoint. */
export interface ModelConfig {
  architecture: Architecture;
  /** [channels, height, width] of the images the model takes, pixels in [0,1]. */
  inputShape: [number, number, number];
  classNames: string[];
  /** Per-channel normalisation applied inside the model. */
  mean: number[];
  std: number[];
}

export interface CreateModelOptions extends ModelConfig {
  device?: DeviceName;
  /** Seed of the weight initialisation. */
  seed?: number;
}

export class Model {
  private constructor(
    readonly config: ModelConfig,
    /** @internal The addon's handle; not part of the public API. */
    readonly native: NativeModel,
  ) {}

  static create(options: CreateModelOptions): Model {
    const [channels, height, width] = options.inputShape;
    const config: ModelConfig = {
      architecture: options.architecture,
      inputShape: [channels, height, width],
      classNames: [...options.classNames],
      mean: [...options.mean],
      std: [...options.std],
    };
    const native = new (nativeAddon().NativeModel)({
      architecture: options.architecture,
      numClasses: options.classNames.length,
      channels,
      height,
      width,
      mean: config.mean,
      std: config.std,
      device: options.device ?? 'auto',
      seed: options.seed ?? 0,
    });
    return new Model(config, native);
  }

  /** Loads a checkpoint written by `save` (or by training): weights, optimizer state and metadata. */
  static async load(filePath: string, options: { device?: DeviceName } = {}): Promise<{ model: Model; meta: CheckpointMeta }> {
    const checkpoint = loadCheckpoint(filePath);
    const config = checkpoint.meta.config.model as ModelConfig | undefined;
    if (!config || !Array.isArray(config.inputShape) || !Array.isArray(config.classNames)) {
      throw new CheckpointError(
        'ERR_CHECKPOINT_CORRUPT',
        filePath,
        `${filePath}: metadata config.model is missing, expected the model configuration written by classwise-at`,
      );
    }
    const model = Model.create({ ...config, device: options.device });
    await model.native.setState(checkpoint.tensors as Record<string, NativeTensor>);
    return { model, meta: checkpoint.meta };
  }

  get info(): NativeModelInfo {
    return this.native.info();
  }

  get numClasses(): number {
    return this.config.classNames.length;
  }

  /** Weights (PyTorch names), optimizer momentum (`optimizer.momentum.*`) and buffers as raw tensors. */
  async state(): Promise<TensorMap> {
    return (await this.native.getState()) as TensorMap;
  }

  async loadState(tensors: TensorMap): Promise<void> {
    await this.native.setState(tensors as Record<string, NativeTensor>);
  }

  /** Writes an atomic safetensors checkpoint; `config.model` always describes this model. */
  async save(filePath: string, meta: { epoch?: number; seed?: number; config?: Record<string, unknown> } = {}): Promise<void> {
    saveCheckpoint(filePath, {
      tensors: await this.state(),
      meta: {
        format: CHECKPOINT_FORMAT,
        epoch: meta.epoch ?? 0,
        seed: meta.seed ?? 0,
        config: { ...(meta.config ?? {}), model: this.config },
      },
    });
  }
}
