/**
 * A classifier living in the native addon: create it, save it as safetensors (with optimizer state and
 * run metadata), load it back.
 */
import fs from 'fs';

import { CHECKPOINT_FORMAT, CheckpointMeta, decodeSafetensors, loadCheckpoint, saveCheckpoint, TensorMap } from './checkpoint';
import { CheckpointError, ClasswiseError, invalidArgument } from './errors';
import { nativeAddon, NativeModel, NativeModelInfo, NativeTensor } from './native';
import { checkClassNames } from './class-names';

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
    checkClassNames(options.classNames, 'Model.create options.classNames');
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
    if (!options || typeof options !== 'object' || !Array.isArray(options.inputShape) || options.inputShape.length !== 3) {
      throw invalidArgument(`Model.loadTorchScript needs { inputShape: [channels, height, width], classNames }, got inputShape ${JSON.stringify(options?.inputShape)}`);
    }
    checkClassNames(options.classNames, 'Model.loadTorchScript options.classNames');
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
    checkRecordedModel(filePath, config, checkpoint.tensors);
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

/** Per architecture: the first convolution (its input channels) and the last linear layer (its classes). */
const LAYER_NAMES: Record<string, { firstConv: string; lastLinear: string }> = {
  smallcnn: { firstConv: 'feature_extractor.conv1.weight', lastLinear: 'classifier.fc3.weight' },
  'preact-resnet18': { firstConv: 'conv1.weight', lastLinear: 'linear.weight' },
  'wide-resnet34-10': { firstConv: 'conv1.weight', lastLinear: 'fc.weight' },
  resnet50: { firstConv: 'conv1.weight', lastLinear: 'fc.weight' },
};

function float32Values(tensor: TensorMap[string]): Float32Array | undefined {
  if (tensor.dtype !== 'F32') return undefined;
  const copy = new Uint8Array(tensor.data);
  return new Float32Array(copy.buffer, 0, copy.length / 4);
}

/**
 * A checkpoint's recorded model checked against its own tensors before anything is built: the layer sizes the
 * recorded inputShape and classes imply (a 2.5 MB file once asked for a 1.75 GB layer), and the normalisation.
 */
function checkRecordedModel(filePath: string, config: ModelConfig, tensors: TensorMap): void {
  const edited = 'the file is damaged or was edited';
  const corrupt = (detail: string) => new CheckpointError('ERR_CHECKPOINT_CORRUPT', `${filePath}: ${detail}; ${edited}`, filePath);
  const nonFinite = (detail: string) => new ClasswiseError('ERR_NON_FINITE', `${filePath}: ${detail}`);
  config.std.forEach((value, channel) => {
    if (!(Number.isFinite(value) && value > 0)) throw nonFinite(`config.model.std[${channel}] is ${value}; every std must be a finite number above 0 (images are divided by it)`);
  });
  config.mean.forEach((value, channel) => {
    if (!Number.isFinite(value)) throw nonFinite(`config.model.mean[${channel}] is ${value}; every mean must be a finite number`);
  });
  const storedStd = tensors['normalize.std'] && float32Values(tensors['normalize.std']);
  if (storedStd) {
    storedStd.forEach((value, channel) => {
      if (!(Number.isFinite(value) && value > 0)) throw nonFinite(`tensor normalize.std[${channel}] is ${value}; every std must be a finite number above 0`);
      if (Math.abs(value - config.std[channel]) > 1e-6 * Math.abs(config.std[channel])) {
        throw nonFinite(`tensor normalize.std[${channel}] is ${value} but config.model.std[${channel}] is ${config.std[channel]}; ${edited}`);
      }
    });
  }
  for (const [name, tensor] of Object.entries(tensors)) {
    if (!name.endsWith('running_var')) continue;
    const values = float32Values(tensor);
    const bad = values?.findIndex((value) => !(value >= 0 && Number.isFinite(value))) ?? -1;
    if (bad >= 0) throw nonFinite(`tensor ${name}[${bad}] is ${values![bad]}; a BatchNorm variance must be a finite number >= 0`);
  }
  const layers = LAYER_NAMES[config.architecture];
  if (!layers) return;
  const shape = (name: string) => {
    const tensor = tensors[name];
    if (!tensor) throw corrupt(`config.model.architecture is ${config.architecture} but the file has no tensor ${name}`);
    return tensor.shape;
  };
  const show = (dims: number[]) => `[${dims.join(',')}]`;
  const [channels, height, width] = config.inputShape;
  const inputShape = `config.model.inputShape ${show(config.inputShape)}`;
  const firstConv = shape(layers.firstConv);
  if (firstConv[1] !== channels) {
    throw corrupt(`${inputShape} does not match tensor ${layers.firstConv} ${show(firstConv)} (${config.architecture} expects ${show([firstConv[0], channels, ...firstConv.slice(2)])} for that input)`);
  }
  const lastLinear = shape(layers.lastLinear);
  if (lastLinear[0] !== config.classNames.length) {
    throw corrupt(`config.model.classNames has ${config.classNames.length} classes but tensor ${layers.lastLinear} is ${show(lastLinear)} (${config.architecture} expects ${show([config.classNames.length, ...lastLinear.slice(1)])})`);
  }
  if (config.architecture === 'smallcnn') {
    // Two (conv3x3, conv3x3, pool2) stages, as native/models.cc builds it.
    const side = (size: number) => Math.floor((Math.floor((size - 4) / 2) - 4) / 2);
    const features = 64 * side(height) * side(width);
    const fc1 = shape('classifier.fc1.weight');
    if (fc1[1] !== features) throw corrupt(`${inputShape} does not match tensor classifier.fc1.weight ${show(fc1)} (smallcnn expects ${show([fc1[0], features])} for that input)`);
  }
}
