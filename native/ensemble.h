// AutoAttack-style cascade: APGD-CE, then APGD-T, then Square, each run only on the points still robust,
// so each point ends with its worst case. FAB-T is not implemented: results say which stages ran.
#pragma once

#include "attacks.h"

namespace classwise {

AttackResult RunEnsemble(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
                         const AttackConfig& config, at::Generator& generator);

}  // namespace classwise
