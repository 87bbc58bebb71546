#include "model_wrap.h"

#include "distributed_wrap.h"

#include "training.h"
#include "model_binding.h"
#include "tensor_bridge.h"

namespace classwise {
namespace {

class TrainWorker : public ModelWorker {
 public:
  TrainWorker(Napi::Env env, Napi::Value onProgress, std::shared_ptr<ModelState> model, TrainData data,
              TrainConfig config, FastPath fastPath)
      : ModelWorker(env, onProgress, std::move(model), config.batchSize, fastPath), data_(std::move(data)), config_(config) {}

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
    if (summary_.classCount.defined()) {
      auto toArray = [&](const torch::Tensor& tensor) {
        torch::Tensor values = tensor.to(torch::kFloat64).contiguous();
        Napi::Float64Array array = Napi::Float64Array::New(env, values.numel());
        std::copy(values.data_ptr<double>(), values.data_ptr<double>() + values.numel(), array.Data());
        return array;
      };
      Napi::Object classes = Napi::Object::New(env);
      classes.Set("count", toArray(summary_.classCount));
      classes.Set("correct", toArray(summary_.classCorrect));
      classes.Set("probabilitySum", toArray(summary_.classProbabilitySum));
      classes.Set("marginSum", toArray(summary_.classMarginSum));
      result.Set("classStatistics", classes);
    }
    SetFastPathResult(result, fastPath_);
    return result;
  }

  TrainData data_;
  TrainConfig config_;
  TrainSummary summary_;
};

}  // namespace

Napi::Value ModelWrap::Train(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    Napi::Object data = ObjectArgument(info, 0, "data");
    Napi::Object options = ObjectArgument(info, 1, "options");
    const ModelSpec& spec = state_->spec;
    TrainData batch;
    CallImages call = ImagesAndLabels(data, spec, "data");
    batch.images = call.images;
    batch.labels = call.labels;
    const int64_t count = batch.images.size(0);
    batch.order = CopyIndexArray(data.Get("order"), "data.order", count, "indices of the images");
    TrainConfig config;
    const std::string method = StringOption(options, "method", "standard", "options");
    if (method == "standard") config.method = TrainMethod::Standard;
    else if (method == "pgd") config.method = TrainMethod::Pgd;
    else if (method == "fgsm-rs") config.method = TrainMethod::FgsmRs;
    else if (method == "trades") config.method = TrainMethod::Trades;
    else if (method == "mart") config.method = TrainMethod::Mart;
    else throw ClasswiseError(kInvalidArgument, "options.method is \"" + method + "\"; accepted: standard, pgd, fgsm-rs, trades, mart");
    config.attack = ParseAttack(options.Get("attack"), "options.attack");
    if (config.method != TrainMethod::Standard && !config.attack.enabled) {
      throw ClasswiseError(kInvalidArgument, "options.attack is required for method \"" + method + "\"");
    }
    if (config.attack.enabled && config.attack.algorithm != AttackAlgorithm::Pgd) {
      throw ClasswiseError(kInvalidArgument, "options.attack.kind must be fgsm, pgd, cw or tpgd for training "
                                             "(APGD, Square and autoattack are evaluation attacks)");
    }
    config.beta = NumberOption(options, "beta", 6.0, "options");
    if (config.beta < 0 || config.beta > 1e6) throw ClasswiseError(kOutOfRange, "options.beta must be in [0, 1e6], got " + std::to_string(config.beta));
    // Class-wise mitigation: one value per class, checked here so the epoch never starts with a bad one.
    auto perClass = [&](const char* key, double min, double max, const std::string& meaning) {
      Napi::Value value = options.Get(key);
      if (value.IsUndefined()) return torch::Tensor();
      const std::string name = std::string("options.") + key;
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
    config.naturalWeights = perClass("naturalWeights", 0.0, 1e6, "a weight of the natural loss per class");
    config.robustWeights = perClass("robustWeights", 0.0, 1e6, "a weight of the robust loss per class");
    if ((config.naturalWeights.defined() || config.robustWeights.defined()) && config.method != TrainMethod::Trades) {
      throw ClasswiseError(kInvalidArgument, "options.naturalWeights / robustWeights weigh the two TRADES terms; use method \"trades\" or options.classWeights");
    }
    if (options.Has("faalRadius") && !options.Get("faalRadius").IsUndefined()) {
      config.faalRadius = NumberOption(options, "faalRadius", -1, "options");
      if (!(config.faalRadius >= 0 && config.faalRadius <= 1e6)) throw ClasswiseError(kOutOfRange, "options.faalRadius must be in [0, 1e6] (FAAL's KL radius, default 0.5)");
    }
    config.classStatistics = BoolOption(options, "classStatistics", false, "options");
    if (config.classEps.defined() && !config.attack.enabled) {
      throw ClasswiseError(kInvalidArgument, "options.classEps needs an adversarial method (pgd, fgsm-rs, trades, mart)");
    }
    config.momentum = NumberOption(options, "momentum", 0.9, "options");
    config.weightDecay = NumberOption(options, "weightDecay", 5e-4, "options");
    config.nesterov = BoolOption(options, "nesterov", false, "options");
    config.batchSize = IntegerOption(options, "batchSize", 128, 1, kMaxBatch, "options");
    config.seed = SeedOption(options, "options");
    config.epoch = IntegerOption(options, "epoch", 0, 0, int64_t(1) << 40, "options");
    if (options.Has("augment") && !options.Get("augment").IsUndefined()) {
      if (!options.Get("augment").IsObject()) throw ClasswiseError(kInvalidArgument, "options.augment must be an object { cropPadding, horizontalFlip }");
      Napi::Object augment = options.Get("augment").As<Napi::Object>();
      config.augment.cropPadding = IntegerOption(augment, "cropPadding", 0, 0, spec.height, "options.augment");
      config.augment.horizontalFlip = BoolOption(augment, "horizontalFlip", false, "options.augment");
    }
    if (config.momentum < 0 || config.momentum >= 1) throw ClasswiseError(kOutOfRange, "options.momentum must be in [0, 1), got " + std::to_string(config.momentum));
    if (config.weightDecay < 0) throw ClasswiseError(kOutOfRange, "options.weightDecay must be >= 0");
    config.group = DistributedWrap::From(options, "processGroup", "options");
    batch.learningRates = CopyFloat64Array(data.Get("learningRates"), "data.learningRates");
    const int64_t steps = (batch.order.size(0) + config.batchSize - 1) / config.batchSize;
    if (batch.learningRates.size(0) != steps) {
      throw ClasswiseError(kShapeMismatch, "data.learningRates has " + std::to_string(batch.learningRates.size(0)) +
                                               " entries but the epoch has " + std::to_string(steps) +
                                               " steps (order.length / batchSize, rounded up)");
    }
    auto worker = new TrainWorker(env, info[2], state_, std::move(batch), config,
                                  FastPathOption(options, state_->device, "options"));
    return worker->Start();
  });
}

}  // namespace classwise
