// FAB-T, Linf (Croce & Hein 2020, "Minimally distorted adversarial examples with a fast adaptive boundary
// attack"), targeted as the standard AutoAttack runs it: for each of the top-k other classes of the clean
// logits in turn, 100 steps that project onto the linearised boundary between the true and the target class,
// biased back towards the original image; a point counts as broken when a misclassified point was found
// within eps. The first restart starts at the image itself (deterministic), later ones at random.
#pragma once

#include "attacks.h"

namespace classwise {

AttackResult RunFab(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
                    const AttackConfig& config, at::Generator& generator);

// Attacks the examples where `success` is false, in place (see ApgdInPlace). `cleanLogits` ranks the targets.
void FabInPlace(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
                const torch::Tensor& cleanLogits, const AttackConfig& config, at::Generator& local,
                torch::Tensor& adversarial, torch::Tensor& success);

// The smallest Linf step d (per row) with w.(t + d) = b and t + d in [0,1], as in FAB's projection.
// t, w: [M, D]; b: [M]. Exposed for tests of the geometry.
torch::Tensor ProjectOntoHyperplaneLinf(const torch::Tensor& t, torch::Tensor w, torch::Tensor b);

}  // namespace classwise
