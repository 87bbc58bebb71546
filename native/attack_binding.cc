#include "model_wrap.h"

#include "attacks.h"
#include "cuda_pipeline.h"
#include "model_binding.h"
#include "tensor_bridge.h"

namespace classwise {
namespace {

class AttackWorker : public ModelWorker {
 public:
  AttackWorker(Napi::Env env, Napi::Value onProgress, std::shared_ptr<ModelState> model, torch::Tensor images,
               torch::Tensor labels, torch::Tensor targets, AttackConfig attack, int64_t batchSize, uint64_t seed,
               torch::Tensor logitBias, FastPath fastPath)
      : ModelWorker(env, onProgress, std::move(model), batchSize, fastPath), images_(std::move(images)),
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
    // Batch i + 1 travels to the device while batch i is attacked.
    DevicePrefetch prefetch(model_->device);
    auto hostBatch = [&](int64_t start) {
      const int64_t end = std::min(total, start + batchSize_);
      std::vector<torch::Tensor> host = {images_.slice(0, start, end), labels_.slice(0, start, end)};
      if (targets_.defined()) host.push_back(targets_.slice(0, start, end));
      return host;
    };
    if (total > 0) prefetch.Stage(hostBatch(0));
    for (int64_t start = 0; start < total; start += batchSize_) {
      const int64_t end = std::min(total, start + batchSize_);
      std::vector<torch::Tensor> batch = prefetch.Take();
      if (end < total) prefetch.Stage(hostBatch(end));
      torch::Tensor images = batch[0];
      torch::Tensor labels = batch[1];
      torch::Tensor targets = targets_.defined() ? batch[2] : labels;
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
    SetFastPathResult(result, fastPath_);
    return result;
  }

  torch::Tensor images_, labels_, targets_, logitBias_, brokenBy_;
  AttackConfig attack_;
  uint64_t seed_;
  torch::Tensor adversarial_, predictions_;
};

}  // namespace

Napi::Value ModelWrap::Attack(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    Napi::Object data = ObjectArgument(info, 0, "data");
    Napi::Object options = ObjectArgument(info, 1, "options");
    const ModelSpec& spec = state_->spec;
    // 8-bit images (a dataset's own arrays) are scaled to [0,1] here, once, instead of in JavaScript.
    const bool eightBit = data.Get("images").IsTypedArray() &&
                          data.Get("images").As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array;
    torch::Tensor images = eightBit
        ? AsImageBatch(CopyUint8Array(data.Get("images"), "images").to(torch::kFloat32).div_(255.0f), spec, "images")
        : AsImageBatch(CopyFloat32Array(data.Get("images"), "images"), spec, "images");
    // A NaN or a pixel outside [0,1] would silently break the epsilon-ball guarantees.
    if (!eightBit) {
      const float* pixels = images.data_ptr<float>();
      for (int64_t i = 0; i < images.numel(); ++i) {
        if (!(pixels[i] >= 0.0f && pixels[i] <= 1.0f)) {
          throw ClasswiseError(kOutOfRange, "images[" + std::to_string(i) + "] is " + std::to_string(pixels[i]) +
                                                "; pixels must be in [0, 1] (divide 8-bit images by 255)");
        }
      }
    }
    const int64_t count = images.size(0);
    torch::Tensor labels = LabelsFor(data, "labels", count, spec.numClasses, "");
    AttackConfig attack = ParseAttack(options.Get("attack"), "options");
    torch::Tensor targets;
    if (attack.targeted) targets = LabelsFor(data, "targets", count, spec.numClasses, "options");
    const int64_t batchSize = IntegerOption(options, "batchSize", 256, 1, kMaxBatch, "options");
    auto worker = new AttackWorker(env, info[2], state_, images, labels, targets, attack, batchSize,
                                   SeedOption(options, "options"),
                                   LogitBiasOption(options, spec.numClasses, "options"),
                                   FastPathOption(options, state_->device, "options"));
    return worker->Start();
  });
}

}  // namespace classwise
