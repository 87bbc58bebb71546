// The AutoAttack cascade: APGD-CE, then APGD-T, then FAB-T, then Square, each run only on the points still
// robust, so each point ends with its worst case. Results say which stages ran and with which settings.
#pragma once

#include "attacks.h"

namespace classwise {

AttackResult RunEnsemble(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
                         const AttackConfig& config, at::Generator& generator);

}  // namespace classwise
