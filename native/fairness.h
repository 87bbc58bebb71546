// Robust-fairness pieces that run inside the training epoch (FAAL's per-batch class weights).
#pragma once

#include <napi.h>
#include <torch/torch.h>

namespace classwise {

// FAAL (Zhang et al. 2024): p = argmax_p sum_c p_c m_c over the simplex with KL(u || p) <= radius, u uniform over
// the classes present (present[c]); returns K * p (mean weight 1 over the present classes; absent classes 1).
// margins, present: double / bool [K] on the host.
torch::Tensor FaalClassWeights(const torch::Tensor& margins, const torch::Tensor& present, double radius);

// JavaScript: faalClassWeights(margins: Float64Array, radius: number) -> Float64Array (every class present).
Napi::Value FaalClassWeightsBinding(const Napi::CallbackInfo& info);

}  // namespace classwise
