// APGD (Croce & Hein 2020): PGD with momentum 0.75 and a step size halved at checkpoints where the
// objective stalls, restarting from the best point. APGD-T attacks the top-k other classes in turn.
#pragma once

#include "attacks.h"

namespace classwise {

// Standalone APGD-CE / APGD-DLR / APGD-T (config.targetClasses > 0) on one batch.
AttackResult RunApgd(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
                     const torch::Tensor& targets, const AttackConfig& config, at::Generator& generator);

// Attacks the examples where `success` is false, in place: a success overwrites `adversarial` and sets
// `success`. `local` is the batch's generator (BatchGenerator); noise is drawn for the whole batch.
void ApgdInPlace(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
                 const torch::Tensor& targets, const torch::Tensor& cleanLogits, const AttackConfig& config,
                 at::Generator& local, torch::Tensor& adversarial, torch::Tensor& success);

}  // namespace classwise
