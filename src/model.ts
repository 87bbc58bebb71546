/**
 * A classifier living in the native addon: create it, save it as safetensors (with optimizer state and
 * run metadata), load it back.
 */
import fs from 'fs';

import { CHECKPOINT_FORMAT, CheckpointMeta, decodeSafetensors, loadCheckpoint, saveCheckpoint, TensorMap } from './checkpoint';
import { CheckpointError, ClasswiseError, invalidArgument } from './errors';
import { nativeAddon, NativeModel, NativeModelInfo, NativeTensor } from './native';

export const ARCHITECTURES = ['smallcnn', 'preact-resnet18', 'wide-resnet34-10', 'resnet50'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];
export type DeviceName = 'auto' | 'cpu' | 'cuda' | `cuda:${number}`;

/** Everything needed to rebuild the network; stored in every checkpoint. */
export interface ModelConfig {
  /** 'torchscript': loaded with Model.loadTorchScript; cannot be saved as a classwise-at checkpoint. */
  architecture: Architecture | 'torchscript';
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
  /**
   * The dataset the model was trained on, from a checkpoint's run settings (Model.load); evaluate and attack
   * refuse data of another dataset unless told allowDatasetMismatch.
   */
  dataset?: string;

  private constructor(
    readonly config: ModelConfig,
    /** @internal The addon's handle; not part of the public API. */
    readonly native: NativeModel,
  ) {}

  static create(options: CreateModelOptions): Model {
    if (!options || typeof options !== 'object') throw invalidArgument('Model.create needs { architecture, inputShape, classNames, mean, std }');
    if (!Array.isArray(options.inputShape) || options.inputShape.length !== 3) throw invalidArgument(`Model.create options.inputShape must be [channels, height, width], got ${JSON.stringify(options.inputShape)}`);
    if (!Array.isArray(options.classNames)) throw invalidArgument('Model.create options.classNames must be an array of class names');
    if (!Array.isArray(options.mean) || !Array.isArray(options.std)) throw invalidArgument('Model.create options.mean and options.std must be arrays, one number per channel');
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

  /**
   * Loads any PyTorch classifier saved with torch.jit.save. It must take images in [0,1] of `inputShape`
   * (normalisation inside the model) and return logits [N, classNames.length]. Per-class weight norms are
   * absent (empty) for such a model. A file that is not TorchScript (e.g. a torch.save state dict) is refused
   * with the export recipe.
   */
  static loadTorchScript(filePath: string, options: { inputShape: [number, number, number]; classNames: string[]; device?: DeviceName }): Model {
    const [channels, height, width] = options.inputShape;
    const native = new (nativeAddon().NativeModel)({
      torchscript: filePath,
      architecture: 'torchscript',
      numClasses: options.classNames.length,
      channels,
      height,
      width,
      mean: [],
      std: [],
      device: options.device ?? 'auto',
      seed: 0,
    });
    const config: ModelConfig = { architecture: 'torchscript', inputShape: [channels, height, width], classNames: [...options.classNames], mean: [], std: [] };
    return new Model(config, native);
  }

  /**
   * Loads plain PyTorch weights (e.g. `safetensors.torch.save_file(model.state_dict(), f)` of the PyTorch
   * definitions of the built-in architectures) into a new model. Every parameter and batch-norm buffer must be
   * present under its PyTorch name; `normalize.mean` / `normalize.std` may be left out (then `mean` / `std`
   * of the options are used).
   */
  static async fromSafetensors(filePath: string, options: CreateModelOptions): Promise<Model> {
    if (typeof filePath !== 'string') throw invalidArgument('Model.fromSafetensors needs the .safetensors file as its first argument');
    if (!fs.existsSync(filePath)) throw new CheckpointError('ERR_CHECKPOINT_MISSING', `safetensors file not found: ${filePath}`, filePath);
    const { tensors } = decodeSafetensors(fs.readFileSync(filePath), filePath);
    const model = Model.create(options);
    const own = await model.state();
    const required = Object.keys(own).filter((name) => !name.startsWith('optimizer.') && !name.startsWith('normalize.'));
    const missing = required.filter((name) => !(name in tensors));
    if (missing.length > 0) {
      throw new CheckpointError('ERR_CHECKPOINT_CORRUPT', `${filePath}: ${missing.length} tensor(s) of ${options.architecture} are missing: ${missing.slice(0, 5).join(', ')}` +
        `${missing.length > 5 ? ', ...' : ''} (PyTorch names as in docs/models.md)`, filePath);
    }
    await model.loadState({ ...pick(own, ['normalize.mean', 'normalize.std']), ...tensors });
    return model;
  }

  /** Loads a checkpoint written by `save` (or by training): weights, optimizer state and metadata. */
  static async load(filePath: string, options: { device?: DeviceName } = {}): Promise<{ model: Model; meta: CheckpointMeta }> {
    if (typeof filePath !== 'string') throw invalidArgument('Model.load needs the checkpoint file, e.g. runs/NAME/checkpoint.safetensors');
    const checkpoint = loadCheckpoint(filePath);
    const config = checkpoint.meta.config.model as ModelConfig | undefined;
    if (!config || !Array.isArray(config.inputShape) || !Array.isArray(config.classNames)) {
      throw new CheckpointError('ERR_CHECKPOINT_CORRUPT', `${filePath}: metadata config.model is missing, expected the model configuration written by classwise-at`, filePath);
    }
    const model = Model.create({ ...config, architecture: config.architecture as Architecture, device: options.device });
    try {
      await model.native.setState(checkpoint.tensors as Record<string, NativeTensor>);
    } catch (error) {
      // The file is at fault, not the caller's model: say which file.
      if (error instanceof ClasswiseError && error.code === 'ERR_NON_FINITE') throw new ClasswiseError(error.code, `${filePath}: ${error.message}`);
      throw error;
    }
    const run = checkpoint.meta.config.run as { dataset?: unknown } | undefined;
    if (typeof run?.dataset === 'string') model.dataset = run.dataset;
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
    if (typeof filePath !== 'string') throw invalidArgument('model.save needs the file to write, e.g. model.safetensors');
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

function pick(tensors: TensorMap, names: string[]): TensorMap {
  const picked: TensorMap = {};
  for (const name of names) if (name in tensors) picked[name] = tensors[name];
  return picked;
}
