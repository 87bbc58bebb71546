#include "model_wrap.h"

#include "distributed_wrap.h"

#include "class_stats.h"
#include "training.h"
#include "model_binding.h"
#include "tensor_bridge.h"

namespace classwise {
namespace {

class EvaluateWorker : public ModelWorker {
 public:
  EvaluateWorker(Napi::Env env, Napi::Value onProgress, std::shared_ptr<ModelState> model, EvaluationData data,
                 EvaluationConfig config, FastPath fastPath)
      : ModelWorker(env, onProgress, std::move(model), config.batchSize, fastPath), data_(std::move(data)), config_(config) {}

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
    if (stats_.tradesKlSum.defined()) result.Set("tradesKlSum", TensorToTypedArray(env, stats_.tradesKlSum));
    result.Set("seconds", Napi::Number::New(env, seconds_));
    SetFastPathResult(result, fastPath_);
    return result;
  }

  EvaluationData data_;
  EvaluationConfig config_;
  ClassStatistics stats_;
};

}  // namespace

Napi::Value ModelWrap::Evaluate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    Napi::Object data = ObjectArgument(info, 0, "data");
    Napi::Object options = ObjectArgument(info, 1, "options");
    const ModelSpec& spec = state_->spec;
    EvaluationData batch;
    CallImages call = ImagesAndLabels(data, spec, "data");
    batch.images = call.images;
    batch.labels = call.labels;
    const int64_t count = batch.images.size(0);
    EvaluationConfig config;
    config.attack = ParseAttack(options.Get("attack"), "options.attack");
    if (config.attack.targeted) batch.targets = LabelsFor(data, "targets", count, spec.numClasses, "data");
    config.tradesAttack = ParseAttack(options.Get("tradesAttack"), "options.tradesAttack");
    if (config.tradesAttack.enabled && (config.tradesAttack.algorithm != AttackAlgorithm::Pgd || config.tradesAttack.targeted)) {
      throw ClasswiseError(kInvalidArgument, "options.tradesAttack is TRADES' inner maximisation: an untargeted pgd attack whose eps, "
                                             "steps and stepSize it uses");
    }
    config.batchSize = IntegerOption(options, "batchSize", 256, 1, kMaxBatch, "options");
    config.seed = SeedOption(options, "options");
    config.logitBias = LogitBiasOption(options, spec.numClasses, "options");
    config.group = DistributedWrap::From(options, "processGroup", "options");
    auto worker = new EvaluateWorker(env, info[2], state_, std::move(batch), config,
                                     FastPathOption(options, state_->device, "options"));
    return worker->Start();
  });
}

}  // namespace classwise
