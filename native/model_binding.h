// What the NativeModel bindings share: limits, argument helpers and the worker frame of native work on one model.
// Each operation family has its own binding file (model_wrap.cc: create and info; train_binding.cc,
// evaluate_binding.cc, attack_binding.cc, state_binding.cc), holding its workers and option parsing.
#pragma once

#include <napi.h>
#include <torch/torch.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "cuda_pipeline.h"
#include "errors.h"
#include "fast_path.h"
#include "model_state.h"
#include "promise_worker.h"

namespace classwise {

constexpr int64_t kMaxBatch = 1 << 20;
constexpr int64_t kMaxClasses = 100000;
constexpr int64_t kMaxImageSide = 4096;

// Images arrive flat; this checks the length against the model's input shape and reshapes.
torch::Tensor AsImageBatch(torch::Tensor flat, const ModelSpec& spec, const std::string& name);

torch::Tensor LabelsFor(const Napi::Object& data, const char* key, int64_t count, int64_t classes,
                        const std::string& where);

// Optional per-class logit bias for evaluation and attacks (class-wise mitigation at inference).
torch::Tensor LogitBiasOption(const Napi::Object& options, int64_t classes, const std::string& where);

uint64_t SeedOption(const Napi::Object& options, const std::string& where);

// The images and labels of a call: a NativeDataset handed over once (`dataset`, read in place), or the typed
// arrays `images` and `labels`, copied now. `where` is the argument's public name ("data").
struct CallImages {
  torch::Tensor images;  // uint8 [N, C, H, W]
  torch::Tensor labels;  // int64 [N]
};
CallImages ImagesAndLabels(const Napi::Object& data, const ModelSpec& spec, const std::string& where);

// ---- workers: each holds only C++ values (the baton) and a shared_ptr keeping the model alive ----

// Native work on one model: keeps it alive, runs alone on it under the call's fast path (precision, layout),
// is timed, and names the batch size to try when memory runs out.
// Arms the network's check of the call's first logits, and disarms it when the call ends without a forward.
class FirstLogitsCheck {
 public:
  explicit FirstLogitsCheck(Classifier& net) : net_(net) { net_.checkNextLogits = true; }
  ~FirstLogitsCheck() { net_.checkNextLogits = false; }

 private:
  Classifier& net_;
};

class ModelWorker : public PromiseWorker {
 public:
  ModelWorker(Napi::Env env, Napi::Value onProgress, std::shared_ptr<ModelState> model, int64_t batchSize,
              FastPath fastPath = {})
      : PromiseWorker(env, onProgress), model_(std::move(model)), batchSize_(batchSize), fastPath_(fastPath) {}

 protected:
  virtual void Work(const Reporter& report) = 0;

  std::shared_ptr<ModelState> model_;
  const int64_t batchSize_;
  const FastPath fastPath_;
  double seconds_ = 0;

 private:
  void Run(const Reporter& report) final {
    std::lock_guard<std::mutex> lock(model_->busy);
    auto started = std::chrono::steady_clock::now();
    FastPathScope fastPath(*model_->net, fastPath_, model_->device);
    CudaGraphScope graphs(model_->device);
    FirstLogitsCheck check(*model_->net);
    WithBatchSizeHint(batchSize_, [&] { Work(report); });
    seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  }
};

}  // namespace classwise
