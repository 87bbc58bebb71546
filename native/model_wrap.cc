#include "model_wrap.h"

#include <chrono>
#include <map>

#include "class_stats.h"
#include "errors.h"
#include "promise_worker.h"
#include "tensor_bridge.h"
#include "training.h"

namespace classwise {
namespace {

constexpr int64_t kMaxBatch = 1 << 20;
constexpr int64_t kMaxClasses = 100000;
constexpr int64_t kMaxImageSide = 4096;
// Prefix of optimizer tensors in a state map; the rest are the network's parameters and buffers.
const std::string kMomentumPrefix = "optimizer.momentum.";

// Images arrive flat; this checks the length against the model's input shape and reshapes.
torch::Tensor AsImageBatch(torch::Tensor flat, const ModelSpec& spec, const std::string& name) {
  const int64_t perImage = spec.channels * spec.height * spec.width;
  if (flat.size(0) % perImage != 0) {
    throw ClasswiseError(kShapeMismatch, name + " has " + std::to_string(flat.size(0)) +
                                             " values, not a multiple of channels*height*width = " +
                                             std::to_string(spec.channels) + "*" + std::to_string(spec.height) +
                                             "*" + std::to_string(spec.width) + " = " + std::to_string(perImage));
  }
  return flat.view({-1, spec.channels, spec.height, spec.width});
}

torch::Tensor LabelsFor(const Napi::Object& data, const char* key, int64_t count, int64_t classes,
                        const std::string& where) {
  torch::Tensor labels = CopyIndexArray(data.Get(key), where + "." + key, classes, "the model has " +
                                                                                    std::to_string(classes) + " classes");
  if (labels.size(0) != count) {
    throw ClasswiseError(kShapeMismatch, where + "." + key + " has " + std::to_string(labels.size(0)) +
                                             " entries but there are " + std::to_string(count) + " images");
  }
  return labels;
}

const char* SafetensorsDtype(torch::ScalarType type) {
  switch (type) {
    case torch::kFloat32: return "F32";
    case torch::kFloat64: return "F64";
    case torch::kInt64: return "I64";
    default: throw ClasswiseError(kInternal, std::string("no safetensors dtype for ") + c10::toString(type));
  }
}

torch::ScalarType DtypeFromSafetensors(const std::string& name, const std::string& where) {
  if (name == "F32") return torch::kFloat32;
  if (name == "F64") return torch::kFloat64;
  if (name == "I64") return torch::kInt64;
  throw ClasswiseError(kInvalidArgument, where + ".dtype is \"" + name + "\"; accepted: F32, F64, I64");
}

// ---- workers: each holds only C++ values (the baton) and a shared_ptr keeping the model alive ----

// Native work on one model: keeps it alive, runs alone on it, is timed, and names the batch size to try
// when memory runs out.
class ModelWorker : public PromiseWorker {
 public:
  ModelWorker(Napi::Env env, Napi::Value onProgress, std::shared_ptr<ModelState> model, int64_t batchSize)
      : PromiseWorker(env, onProgress), model_(std::move(model)), batchSize_(batchSize) {}

 protected:
  virtual void Work(const Reporter& report) = 0;

  std::shared_ptr<ModelState> model_;
  const int64_t batchSize_;
  double seconds_ = 0;

 private:
  void Run(const Reporter& report) final {
    std::lock_guard<std::mutex> lock(model_->busy);
    auto started = std::chrono::steady_clock::now();
    WithBatchSizeHint(batchSize_, [&] { Work(report); });
    seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  }
};

class TrainWorker : public ModelWorker {
 public:
  TrainWorker(Napi::Env env, Napi::Value onProgress, std::shared_ptr<ModelState> model, TrainData data,
              TrainConfig config)
      : ModelWorker(env, onProgress, std::move(model), config.batchSize), data_(std::move(data)), config_(config) {}

 private:
  void Work(const Reporter& report) override {
    summary_ = TrainEpoch(*model_, data_, config_, [&](const Progress& p) { report.Send(&p, 1); });
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object result = Napi::Object::New(env);
    result.Set("steps", Napi::Number::New(env, static_cast<double>(summary_.steps)));
    result.Set("seen", Napi::Number::New(env, static_cast<double>(summary_.seen)));
    result.Set("correct", Napi::Number::New(env, static_cast<double>(summary_.correct)));
    result.Set("lossSum", Napi::Number::New(env, summary_.lossSum));
    result.Set("seconds", Napi::Number::New(env, seconds_));
    return result;
  }

  TrainData data_;
  TrainConfig config_;
  TrainSummary summary_;
};

class EvaluateWorker : public ModelWorker {
 public:
  EvaluateWorker(Napi::Env env, Napi::Value onProgress, std::shared_ptr<ModelState> model, EvaluationData data,
                 EvaluationConfig config)
      : ModelWorker(env, onProgress, std::move(model), config.batchSize), data_(std::move(data)), config_(config) {}

 private:
  void Work(const Reporter& report) override {
    LogitBiasScope bias(*model_->net, config_.logitBias, model_->device);
    stats_ = EvaluateClasses(*model_, data_, config_, [&](const Progress& p) { report.Send(&p, 1); });
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object result = Napi::Object::New(env);
    result.Set("cleanConfusion", TensorToTypedArray(env, stats_.cleanConfusion));
    result.Set("adversarialConfusion", TensorToTypedArray(env, stats_.adversarialConfusion));
    result.Set("cleanLossSum", TensorToTypedArray(env, stats_.cleanLossSum));
    result.Set("gradientNormSum", TensorToTypedArray(env, stats_.gradientNormSum));
    result.Set("cleanPredictions", TensorToTypedArray(env, stats_.cleanPredictions));
    result.Set("adversarialPredictions", TensorToTypedArray(env, stats_.adversarialPredictions));
    result.Set("weightNorms", TensorToTypedArray(env, stats_.weightNorms));
    if (stats_.brokenBy.defined()) result.Set("brokenBy", TensorToTypedArray(env, stats_.brokenBy));
    result.Set("seconds", Napi::Number::New(env, seconds_));
    return result;
  }

  EvaluationData data_;
  EvaluationConfig config_;
  ClassStatistics stats_;
};

class AttackWorker : public ModelWorker {
 public:
  AttackWorker(Napi::Env env, Napi::Value onProgress, std::shared_ptr<ModelState> model, torch::Tensor images,
               torch::Tensor labels, torch::Tensor targets, AttackConfig attack, int64_t batchSize, uint64_t seed,
               torch::Tensor logitBias)
      : ModelWorker(env, onProgress, std::move(model), batchSize), images_(std::move(images)),
        labels_(std::move(labels)), targets_(std::move(targets)), logitBias_(std::move(logitBias)), attack_(attack),
        seed_(seed) {}

 private:
  void Work(const Reporter& report) override {
    Classifier& net = *model_->net;
    net.eval();
    LogitBiasScope bias(net, logitBias_, model_->device);
    at::Generator generator = MakeGenerator(model_->device, seed_);
    const int64_t total = images_.size(0);
    adversarial_ = torch::empty_like(images_);
    predictions_ = torch::empty({total}, torch::kInt64);
    for (int64_t start = 0; start < total; start += batchSize_) {
      const int64_t end = std::min(total, start + batchSize_);
      torch::Tensor images = images_.slice(0, start, end).to(model_->device);
      torch::Tensor labels = labels_.slice(0, start, end).to(model_->device);
      torch::Tensor targets = targets_.defined() ? targets_.slice(0, start, end).to(model_->device) : labels;
      AttackResult result = RunAttack(net, images, labels, targets, attack_, generator);
      adversarial_.slice(0, start, end).copy_(result.adversarial);
      predictions_.slice(0, start, end).copy_(result.predictions);
      if (result.brokenBy.defined()) {
        if (!brokenBy_.defined()) brokenBy_ = torch::full({total}, kStageRobust, torch::kInt64);
        brokenBy_.slice(0, start, end).copy_(result.brokenBy);
      }
      Progress progress{end, total, 0.0, 0};
      report.Send(&progress, 1);
    }
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object result = Napi::Object::New(env);
    result.Set("adversarial", TensorToTypedArray(env, adversarial_));
    result.Set("predictions", TensorToTypedArray(env, predictions_));
    if (brokenBy_.defined()) result.Set("brokenBy", TensorToTypedArray(env, brokenBy_));
    return result;
  }

  torch::Tensor images_, labels_, targets_, logitBias_, brokenBy_;
  AttackConfig attack_;
  uint64_t seed_;
  torch::Tensor adversarial_, predictions_;
};

struct NamedTensor {
  std::string name;
  torch::Tensor tensor;
};

// Network tensors (parameters, then buffers) and the optimizer's, under the names used in checkpoints.
std::vector<NamedTensor> StateTensors(ModelState& model) {
  std::vector<NamedTensor> tensors;
  for (const auto& item : model.net->named_parameters()) tensors.push_back({item.key(), item.value()});
  for (const auto& item : model.net->named_buffers()) tensors.push_back({item.key(), item.value()});
  auto parameters = model.net->named_parameters();
  for (size_t i = 0; i < parameters.size(); ++i) {
    tensors.push_back({kMomentumPrefix + parameters[i].key(), model.momentum[i]});
  }
  return tensors;
}

class GetStateWorker : public PromiseWorker {
 public:
  GetStateWorker(Napi::Env env, std::shared_ptr<ModelState> model)
      : PromiseWorker(env, env.Undefined()), model_(std::move(model)) {}

 private:
  void Run(const Reporter&) override {
    std::lock_guard<std::mutex> lock(model_->busy);
    for (auto& item : StateTensors(*model_)) tensors_.push_back({item.name, item.tensor.detach().cpu().contiguous().clone()});
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object result = Napi::Object::New(env);
    for (const auto& item : tensors_) {
      Napi::Object entry = Napi::Object::New(env);
      entry.Set("dtype", SafetensorsDtype(item.tensor.scalar_type()));
      Napi::Array shape = Napi::Array::New(env, item.tensor.dim());
      for (int64_t d = 0; d < item.tensor.dim(); ++d) shape.Set(d, Napi::Number::New(env, item.tensor.size(d)));
      entry.Set("shape", shape);
      Napi::Uint8Array bytes = Napi::Uint8Array::New(env, item.tensor.nbytes());
      if (item.tensor.nbytes() > 0) std::memcpy(bytes.Data(), item.tensor.data_ptr(), item.tensor.nbytes());
      entry.Set("data", bytes);
      result.Set(item.name, entry);
    }
    return result;
  }

  std::shared_ptr<ModelState> model_;
  std::vector<NamedTensor> tensors_;
};

class SetStateWorker : public PromiseWorker {
 public:
  SetStateWorker(Napi::Env env, std::shared_ptr<ModelState> model, std::map<std::string, torch::Tensor> incoming)
      : PromiseWorker(env, env.Undefined()), model_(std::move(model)), incoming_(std::move(incoming)) {}

 private:
  void Run(const Reporter&) override {
    std::lock_guard<std::mutex> lock(model_->busy);
    std::vector<NamedTensor> targets = StateTensors(*model_);
    // Check everything before changing anything, so a bad file leaves the model as it was.
    std::vector<std::string> missing;
    for (const auto& target : targets) {
      auto found = incoming_.find(target.name);
      if (found == incoming_.end()) {
        if (target.name.rfind(kMomentumPrefix, 0) != 0) missing.push_back(target.name);
        continue;
      }
      if (found->second.sizes() != target.tensor.sizes()) {
        throw ClasswiseError(kShapeMismatch, "tensor \"" + target.name + "\" has shape " +
                                                 c10::str(found->second.sizes()) + " but this model expects " +
                                                 c10::str(target.tensor.sizes()) +
                                                 " (was the checkpoint written for another architecture or class count?)");
      }
    }
    if (!missing.empty()) {
      std::string list;
      for (size_t i = 0; i < missing.size() && i < 5; ++i) list += (i ? ", " : "") + missing[i];
      throw ClasswiseError(kShapeMismatch, std::to_string(missing.size()) + " tensor(s) of the model are missing: " +
                                               list + (missing.size() > 5 ? ", ..." : ""));
    }
    for (const auto& item : incoming_) {
      bool known = false;
      for (const auto& target : targets) known = known || target.name == item.first;
      if (!known) throw ClasswiseError(kShapeMismatch, "tensor \"" + item.first + "\" is not part of this " +
                                                          model_->spec.architecture + " model");
    }
    torch::NoGradGuard noGrad;
    for (auto& target : targets) {
      auto found = incoming_.find(target.name);
      if (found == incoming_.end()) {
        target.tensor.zero_();
      } else {
        target.tensor.copy_(found->second.to(target.tensor.scalar_type()));
      }
    }
  }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }

  std::shared_ptr<ModelState> model_;
  std::map<std::string, torch::Tensor> incoming_;
};

// Optional per-class logit bias for evaluation and attacks (class-wise mitigation at inference).
torch::Tensor LogitBiasOption(const Napi::Object& options, int64_t classes, const std::string& where) {
  Napi::Value value = options.Get("logitBias");
  if (value.IsUndefined()) return torch::Tensor();
  torch::Tensor bias = CopyFloat64Array(value, where + ".logitBias");
  if (bias.size(0) != classes) {
    throw ClasswiseError(kShapeMismatch, where + ".logitBias has " + std::to_string(bias.size(0)) +
                                             " entries; the model has " + std::to_string(classes) + " classes (one bias per class)");
  }
  if (!torch::isfinite(bias).all().item<bool>()) {
    throw ClasswiseError(kOutOfRange, where + ".logitBias must hold finite numbers");
  }
  return bias;
}

uint64_t SeedOption(const Napi::Object& options, const std::string& where) {
  return static_cast<uint64_t>(IntegerOption(options, "seed", 0, 0, (int64_t(1) << 53) - 1, where));
}

}  // namespace

Napi::Function ModelWrap::Define(Napi::Env env) {
  return DefineClass(env, "NativeModel",
                     {InstanceMethod("info", &ModelWrap::Info), InstanceMethod("train", &ModelWrap::Train),
                      InstanceMethod("evaluate", &ModelWrap::Evaluate), InstanceMethod("attack", &ModelWrap::Attack),
                      InstanceMethod("getState", &ModelWrap::GetState),
                      InstanceMethod("setState", &ModelWrap::SetState)});
}

ModelWrap::ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
  Guarded(info.Env(), [&]() -> Napi::Value {
    const std::string where = "model spec";
    Napi::Object options = ObjectArgument(info, 0, where);
    ModelSpec spec;
    spec.architecture = StringOption(options, "architecture", "smallcnn", where);
    spec.numClasses = IntegerOption(options, "numClasses", 10, 2, kMaxClasses, where);
    spec.channels = IntegerOption(options, "channels", 1, 1, 64, where);
    spec.height = IntegerOption(options, "height", 28, 1, kMaxImageSide, where);
    spec.width = IntegerOption(options, "width", 28, 1, kMaxImageSide, where);
    auto perChannel = [&](const char* key, double fallback) {
      Napi::Value value = options.Get(key);
      std::vector<double> values;
      if (value.IsUndefined()) return std::vector<double>(spec.channels, fallback);
      if (!value.IsArray()) throw ClasswiseError(kInvalidArgument, where + "." + key + " must be an array of numbers");
      Napi::Array array = value.As<Napi::Array>();
      for (uint32_t i = 0; i < array.Length(); ++i) {
        Napi::Value v = array.Get(i);
        if (!v.IsNumber()) throw ClasswiseError(kInvalidArgument, where + "." + key + "[" + std::to_string(i) + "] must be a number");
        values.push_back(v.As<Napi::Number>().DoubleValue());
      }
      return values;
    };
    spec.mean = perChannel("mean", 0.0);
    spec.std = perChannel("std", 1.0);
    const std::string device = StringOption(options, "device", "auto", where);
    const std::string torchscript = StringOption(options, "torchscript", "", where);
    if (!torchscript.empty()) {
      spec.numClasses = IntegerOption(options, "numClasses", 0, 0, kMaxClasses, where);
      state_ = CreateTorchScriptState(spec, torchscript, device);
      return info.Env().Undefined();
    }
    state_ = CreateModelState(spec, device, SeedOption(options, where));
    return info.Env().Undefined();
  });
}

Napi::Value ModelWrap::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    Napi::Object result = Napi::Object::New(env);
    const ModelSpec& spec = state_->spec;
    result.Set("architecture", spec.architecture);
    result.Set("numClasses", Napi::Number::New(env, spec.numClasses));
    result.Set("channels", Napi::Number::New(env, spec.channels));
    result.Set("height", Napi::Number::New(env, spec.height));
    result.Set("width", Napi::Number::New(env, spec.width));
    result.Set("device", state_->device.str());
    int64_t parameters = 0;
    for (const auto& p : state_->net->parameters()) parameters += p.numel();
    result.Set("parameterCount", Napi::Number::New(env, static_cast<double>(parameters)));
    return result;
  });
}

Napi::Value ModelWrap::Train(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    Napi::Object data = ObjectArgument(info, 0, "train data");
    Napi::Object options = ObjectArgument(info, 1, "train options");
    const ModelSpec& spec = state_->spec;
    TrainData batch;
    batch.images = AsImageBatch(CopyUint8Array(data.Get("images"), "train data.images"), spec, "train data.images");
    const int64_t count = batch.images.size(0);
    batch.labels = LabelsFor(data, "labels", count, spec.numClasses, "train data");
    batch.order = CopyIndexArray(data.Get("order"), "train data.order", count, "indices of the images");
    TrainConfig config;
    const std::string method = StringOption(options, "method", "standard", "train options");
    if (method == "standard") config.method = TrainMethod::Standard;
    else if (method == "pgd") config.method = TrainMethod::Pgd;
    else if (method == "fgsm-rs") config.method = TrainMethod::FgsmRs;
    else if (method == "trades") config.method = TrainMethod::Trades;
    else if (method == "mart") config.method = TrainMethod::Mart;
    else throw ClasswiseError(kInvalidArgument, "train options.method is \"" + method + "\"; accepted: standard, pgd, fgsm-rs, trades, mart");
    config.attack = ParseAttack(options.Get("attack"), "train options.attack");
    if (config.method != TrainMethod::Standard && !config.attack.enabled) {
      throw ClasswiseError(kInvalidArgument, "train options.attack is required for method \"" + method + "\"");
    }
    if (config.attack.enabled && config.attack.algorithm != AttackAlgorithm::Pgd) {
      throw ClasswiseError(kInvalidArgument, "train options.attack.kind must be fgsm, pgd, cw or tpgd for training "
                                             "(APGD, Square and autoattack are evaluation attacks)");
    }
    config.beta = NumberOption(options, "beta", 6.0, "train options");
    if (config.beta < 0 || config.beta > 1e6) throw ClasswiseError(kOutOfRange, "train options.beta must be in [0, 1e6], got " + std::to_string(config.beta));
    // Class-wise mitigation: one value per class, checked here so the epoch never starts with a bad one.
    auto perClass = [&](const char* key, double min, double max, const std::string& meaning) {
      Napi::Value value = options.Get(key);
      if (value.IsUndefined()) return torch::Tensor();
      const std::string name = std::string("train options.") + key;
      torch::Tensor values = CopyFloat64Array(value, name);
      if (values.size(0) != spec.numClasses) {
        throw ClasswiseError(kShapeMismatch, name + " has " + std::to_string(values.size(0)) + " entries; the model has " +
                                                 std::to_string(spec.numClasses) + " classes (" + meaning + ")");
      }
      const double* data = values.data_ptr<double>();
      for (int64_t k = 0; k < values.size(0); ++k) {
        if (!(data[k] >= min && data[k] <= max)) {
          throw ClasswiseError(kOutOfRange, name + "[" + std::to_string(k) + "] is " + std::to_string(data[k]) +
                                                "; expected a number in [" + std::to_string(min) + ", " + std::to_string(max) + "] (" + meaning + ")");
        }
      }
      return values;
    };
    config.classWeights = perClass("classWeights", 0.0, 1e6, "a loss weight per class");
    config.classEps = perClass("classEps", 0.0, config.attack.norm == AttackNorm::Linf ? 1.0 : 1e6, "an attack budget per class");
    if (config.classEps.defined() && !config.attack.enabled) {
      throw ClasswiseError(kInvalidArgument, "train options.classEps needs an adversarial method (pgd, fgsm-rs, trades, mart)");
    }
    config.momentum = NumberOption(options, "momentum", 0.9, "train options");
    config.weightDecay = NumberOption(options, "weightDecay", 5e-4, "train options");
    config.nesterov = BoolOption(options, "nesterov", false, "train options");
    config.batchSize = IntegerOption(options, "batchSize", 128, 1, kMaxBatch, "train options");
    config.seed = SeedOption(options, "train options");
    if (options.Has("augment") && !options.Get("augment").IsUndefined()) {
      if (!options.Get("augment").IsObject()) throw ClasswiseError(kInvalidArgument, "train options.augment must be an object { cropPadding, horizontalFlip }");
      Napi::Object augment = options.Get("augment").As<Napi::Object>();
      config.augment.cropPadding = IntegerOption(augment, "cropPadding", 0, 0, spec.height, "train options.augment");
      config.augment.horizontalFlip = BoolOption(augment, "horizontalFlip", false, "train options.augment");
    }
    if (config.momentum < 0 || config.momentum >= 1) throw ClasswiseError(kOutOfRange, "train options.momentum must be in [0, 1), got " + std::to_string(config.momentum));
    if (config.weightDecay < 0) throw ClasswiseError(kOutOfRange, "train options.weightDecay must be >= 0");
    batch.learningRates = CopyFloat64Array(data.Get("learningRates"), "train data.learningRates");
    const int64_t steps = (batch.order.size(0) + config.batchSize - 1) / config.batchSize;
    if (batch.learningRates.size(0) != steps) {
      throw ClasswiseError(kShapeMismatch, "train data.learningRates has " + std::to_string(batch.learningRates.size(0)) +
                                               " entries but the epoch has " + std::to_string(steps) +
                                               " steps (order.length / batchSize, rounded up)");
    }
    auto worker = new TrainWorker(env, info[2], state_, std::move(batch), config);
    return worker->Start();
  });
}

Napi::Value ModelWrap::Evaluate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    Napi::Object data = ObjectArgument(info, 0, "evaluation data");
    Napi::Object options = ObjectArgument(info, 1, "evaluation options");
    const ModelSpec& spec = state_->spec;
    EvaluationData batch;
    batch.images = AsImageBatch(CopyUint8Array(data.Get("images"), "evaluation data.images"), spec, "evaluation data.images");
    const int64_t count = batch.images.size(0);
    batch.labels = LabelsFor(data, "labels", count, spec.numClasses, "evaluation data");
    EvaluationConfig config;
    config.attack = ParseAttack(options.Get("attack"), "evaluation options.attack");
    if (config.attack.targeted) batch.targets = LabelsFor(data, "targets", count, spec.numClasses, "evaluation data");
    config.batchSize = IntegerOption(options, "batchSize", 256, 1, kMaxBatch, "evaluation options");
    config.seed = SeedOption(options, "evaluation options");
    config.logitBias = LogitBiasOption(options, spec.numClasses, "evaluation options");
    auto worker = new EvaluateWorker(env, info[2], state_, std::move(batch), config);
    return worker->Start();
  });
}

Napi::Value ModelWrap::Attack(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    Napi::Object data = ObjectArgument(info, 0, "attack data");
    Napi::Object options = ObjectArgument(info, 1, "attack options");
    const ModelSpec& spec = state_->spec;
    torch::Tensor images = AsImageBatch(CopyFloat32Array(data.Get("images"), "images"), spec, "images");
    // A NaN or a pixel outside [0,1] would silently break the epsilon-ball guarantees.
    {
      const float* pixels = images.data_ptr<float>();
      for (int64_t i = 0; i < images.numel(); ++i) {
        if (!(pixels[i] >= 0.0f && pixels[i] <= 1.0f)) {
          throw ClasswiseError(kOutOfRange, "images[" + std::to_string(i) + "] is " + std::to_string(pixels[i]) +
                                                "; pixels must be in [0, 1] (divide 8-bit images by 255)");
        }
      }
    }
    const int64_t count = images.size(0);
    torch::Tensor labels = LabelsFor(data, "labels", count, spec.numClasses, "attack data");
    AttackConfig attack = ParseAttack(options.Get("attack"), "attack options.attack");
    torch::Tensor targets;
    if (attack.targeted) targets = LabelsFor(data, "targets", count, spec.numClasses, "attack data");
    const int64_t batchSize = IntegerOption(options, "batchSize", 256, 1, kMaxBatch, "attack options");
    auto worker = new AttackWorker(env, info[2], state_, images, labels, targets, attack, batchSize,
                                   SeedOption(options, "attack options"),
                                   LogitBiasOption(options, spec.numClasses, "attack options"));
    return worker->Start();
  });
}

Napi::Value ModelWrap::GetState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value { return (new GetStateWorker(env, state_))->Start(); });
}

Napi::Value ModelWrap::SetState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    Napi::Object tensors = ObjectArgument(info, 0, "state");
    std::map<std::string, torch::Tensor> incoming;
    Napi::Array names = tensors.GetPropertyNames();
    for (uint32_t i = 0; i < names.Length(); ++i) {
      const std::string name = names.Get(i).As<Napi::String>().Utf8Value();
      const std::string where = "state[\"" + name + "\"]";
      Napi::Value entryValue = tensors.Get(name);
      if (!entryValue.IsObject()) throw ClasswiseError(kInvalidArgument, where + " must be an object { dtype, shape, data }");
      Napi::Object entry = entryValue.As<Napi::Object>();
      torch::ScalarType dtype = DtypeFromSafetensors(StringOption(entry, "dtype", "", where), where);
      Napi::Value shapeValue = entry.Get("shape");
      if (!shapeValue.IsArray()) throw ClasswiseError(kInvalidArgument, where + ".shape must be an array of integers");
      Napi::Array shapeArray = shapeValue.As<Napi::Array>();
      std::vector<int64_t> shape;
      int64_t elements = 1;
      for (uint32_t d = 0; d < shapeArray.Length(); ++d) {
        Napi::Value dim = shapeArray.Get(d);
        double size = dim.IsNumber() ? dim.As<Napi::Number>().DoubleValue() : -1;
        if (!(size >= 0 && size <= 1e9 && std::floor(size) == size)) {
          throw ClasswiseError(kInvalidArgument, where + ".shape[" + std::to_string(d) + "] is not a valid size");
        }
        shape.push_back(static_cast<int64_t>(size));
        elements *= shape.back();
      }
      torch::Tensor bytes = CopyUint8Array(entry.Get("data"), where + ".data");
      const int64_t expected = elements * static_cast<int64_t>(c10::elementSize(dtype));
      if (bytes.size(0) != expected) {
        throw ClasswiseError(kShapeMismatch, where + ".data has " + std::to_string(bytes.size(0)) + " bytes, shape " +
                                                 c10::str(c10::IntArrayRef(shape)) + " of " + c10::toString(dtype) +
                                                 " needs " + std::to_string(expected));
      }
      incoming[name] = bytes.view(dtype).view(shape);
    }
    return (new SetStateWorker(env, state_, std::move(incoming)))->Start();
  });
}

}  // namespace classwise
