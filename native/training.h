// Whole training epochs in one native call: adversarial example generation, forward, backward, SGD.
#pragma once

#include <functional>
#include <string>

#include "attacks.h"
#include "augment.h"
#include "model_state.h"
#include "promise_worker.h"

namespace classwise {

enum class TrainMethod { Standard, Pgd, FgsmRs };

struct TrainConfig {
  TrainMethod method = TrainMethod::Standard;
  AttackConfig attack;  // the inner maximisation (ignored for Standard)
  double momentum = 0.9;
  double weightDecay = 5e-4;
  bool nesterov = false;
  int64_t batchSize = 128;
  uint64_t seed = 0;
  AugmentConfig augment;  // applied to each batch before the attack
};

struct TrainData {
  torch::Tensor images;         // uint8 [N, C, H, W] on the host
  torch::Tensor labels;         // int64 [N]
  torch::Tensor order;          // int64 [M]: indices into images, in visiting order
  torch::Tensor learningRates;  // double [ceil(M / batchSize)]: one per step
};

struct TrainSummary {
  int64_t steps = 0;
  int64_t seen = 0;
  int64_t correct = 0;  // on the examples the step trained on (adversarial ones for AT)
  double lossSum = 0;
};

using ProgressSink = std::function<void(const Progress&)>;

TrainSummary TrainEpoch(ModelState& model, const TrainData& data, const TrainConfig& config,
                        const ProgressSink& report);

// uint8 pixels -> float in [0,1] on the model's device.
torch::Tensor ToUnitFloat(const torch::Tensor& pixels, const torch::Device& device);

}  // namespace classwise
