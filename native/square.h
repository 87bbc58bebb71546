// Square attack, Linf (Andriushchenko et al. 2020): score-based random search that changes one random
// square window per example and query, keeping a change when it lowers the margin. No gradients.
#pragma once

#include "attacks.h"

namespace classwise {

AttackResult RunSquare(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
                       const torch::Tensor& targets, const AttackConfig& config, at::Generator& generator);

// Attacks the examples where `success` is false, in place (see ApgdInPlace).
void SquareInPlace(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
                   const torch::Tensor& targets, const AttackConfig& config, at::Generator& local,
                   torch::Tensor& adversarial, torch::Tensor& success);

}  // namespace classwise
