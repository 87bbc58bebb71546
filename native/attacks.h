// Batched gradient attacks on the input only. FGSM and FGSM-RS are one-step PGD.
#pragma once

#include <torch/torch.h>

#include "models.h"

namespace classwise {

enum class AttackNorm { Linf, L2 };

struct AttackConfig {
  bool enabled = false;  // false: clean evaluation, the "adversarial" image is the clean one
  AttackNorm norm = AttackNorm::Linf;
  double eps = 0;
  double stepSize = 0;
  int64_t steps = 0;
  int64_t restarts = 1;
  bool randomStart = true;
  bool targeted = false;  // then targets are given per example
};

struct AttackResult {
  torch::Tensor adversarial;  // same shape as the images, in [0,1], within eps of them
  torch::Tensor predictions;  // int64 [N], the model's class for each adversarial image
};

// Runs the attack with the model's parameters frozen; the caller chooses train/eval mode.
// Over restarts each example keeps its worst case: a success if any restart succeeded, else the
// restart with the highest loss (untargeted) or lowest target loss (targeted).
AttackResult RunAttack(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
                       const torch::Tensor& targets, const AttackConfig& config, at::Generator& generator);

// Freezes parameters for the guard's lifetime so attack steps build no weight-gradient graph.
class FrozenParameters {
 public:
  explicit FrozenParameters(torch::nn::Module& module);
  ~FrozenParameters();

 private:
  std::vector<torch::Tensor> frozen_;
};

}  // namespace classwise
