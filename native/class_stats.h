// Per-class evaluation in one native call: clean and adversarial confusion matrices, per-class loss and
// input-gradient norm, per-example predictions, and the final layer's per-class weight norms.
#pragma once

#include "attacks.h"
#include "model_state.h"
#include "training.h"

namespace classwise {

struct EvaluationConfig {
  AttackConfig attack;
  int64_t batchSize = 256;
  uint64_t seed = 0;
  torch::Tensor logitBias;  // optional double [K], added to the logits during this evaluation
  // When enabled: TRADES' inner maximisation with these eps / steps / step size on every example, and the
  // per-class sum of KL(p(x) || p(x')) (WAT's validation loss is CE + beta * this KL, as its official code).
  AttackConfig tradesAttack;
  // Data parallelism: rank r attacks batches r, r + W, ... and the statistics are summed over the ranks, so
  // every rank returns what one process returns for the whole set. Null: one process.
  std::shared_ptr<DistributedGroup> group;
};

struct EvaluationData {
  torch::Tensor images;   // uint8 [N, C, H, W] on the host
  torch::Tensor labels;   // int64 [N]
  torch::Tensor targets;  // int64 [N] for targeted attacks, else undefined
};

struct ClassStatistics {
  torch::Tensor cleanConfusion;        // int64 [K, K]: row = true class, column = clean prediction
  torch::Tensor adversarialConfusion;  // int64 [K, K]: row = true class, column = adversarial prediction
  torch::Tensor cleanLossSum;          // double [K]: sum of clean cross-entropy per true class
  torch::Tensor gradientNormSum;       // double [K]: sum of ||d loss / d input||_2 per true class
  torch::Tensor cleanPredictions;      // int64 [N]
  torch::Tensor adversarialPredictions;  // int64 [N]
  torch::Tensor weightNorms;           // double [K]: L2 norm of each row of the final linear layer
  torch::Tensor brokenBy;              // int64 [N], ensemble only: which stage broke each example (attacks.h)
  torch::Tensor tradesKlSum;           // double [K], with EvaluationConfig.tradesAttack: sum of the TRADES KL
};

ClassStatistics EvaluateClasses(ModelState& model, const EvaluationData& data, const EvaluationConfig& config,
                                const ProgressSink& report);

torch::Tensor FinalLayerRowNorms(Classifier& net);

}  // namespace classwise
