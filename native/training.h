// Whole training epochs in one native call: adversarial example generation, forward, backward, SGD.
#pragma once

#include <functional>
#include <string>

#include "attacks.h"
#include "augment.h"
#include "distributed.h"
#include "model_state.h"
#include "promise_worker.h"

namespace classwise {

enum class TrainMethod {
  Standard,
  Pgd,     // Madry et al.: cross-entropy on PGD examples
  FgsmRs,  // Wong et al.: one FGSM step from a random start
  Trades,  // Zhang et al. 2019: CE(clean) + beta * KL(clean || adversarial), inner maximisation on the KL
  Mart,    // Wang et al. 2020: boosted CE(adversarial) + beta * KL weighted by 1 - p_y(clean)
};

struct TrainConfig {
  TrainMethod method = TrainMethod::Standard;
  AttackConfig attack;  // the inner maximisation (ignored for Standard)
  double beta = 6.0;    // TRADES / MART regularisation weight
  // Class-wise mitigation, each optional (undefined: off). classWeights: double [K], each example's loss is
  // multiplied by the weight of its class. classEps: double [K], the attack budget of each example's class.
  torch::Tensor classWeights;
  torch::Tensor classEps;
  // Robust fairness (TRADES only), each optional: the per-example loss is naturalWeights[y] * CE +
  // beta * robustWeights[y] * KL (FRL's two weights, CFA's 1/(1+beta_y) and beta_y/(1+beta_y), DAFA's W_y).
  torch::Tensor naturalWeights;
  torch::Tensor robustWeights;
  // FAAL: every batch, class weights K * p from the adversarial margins (fairness.h); < 0: off.
  double faalRadius = -1;
  // Per-class statistics of the examples trained on (TrainSummary.class*); off: not computed.
  bool classStatistics = false;
  double momentum = 0.9;
  double weightDecay = 5e-4;
  bool nesterov = false;
  int64_t batchSize = 128;
  uint64_t seed = 0;
  int64_t epoch = 0;  // 1-based, named when the loss turns non-finite; 0: not given
  AugmentConfig augment;  // applied to each batch before the attack
  // Data parallelism: this rank's examples are rows rank, rank + W, ... of each global batch (TrainData.order is
  // its shard); gradients and losses are summed over the W ranks after every backward. Null: one process.
  std::shared_ptr<DistributedGroup> group;
};

struct TrainData {
  torch::Tensor images;         // uint8 [N, C, H, W] on the host
  torch::Tensor labels;         // int64 [N]
  torch::Tensor order;          // int64 [M]: indices into images, in visiting order
  torch::Tensor learningRates;  // double [ceil(M / batchSize)]: one per step
};

// With a process group, seen / correct / lossSum are over every rank's examples.
struct TrainSummary {
  int64_t steps = 0;
  int64_t seen = 0;
  int64_t correct = 0;  // on the examples the step trained on (adversarial ones for AT)
  double lossSum = 0;
  // With TrainConfig.classStatistics, over the examples trained on (adversarial ones for AT), by true class:
  torch::Tensor classCount;           // int64 [K]
  torch::Tensor classCorrect;         // int64 [K]
  torch::Tensor classProbabilitySum;  // double [K, K]: row = true class, sum of the softmax output
  torch::Tensor classMarginSum;       // double [K]: sum of max_{j != y} p_j - p_y
};

using ProgressSink = std::function<void(const Progress&)>;

// TRADES' inner maximisation: PGD on KL(p(x) || p(x')) from x + N(0, 0.001^2) drawn from `generator`, with the
// attack's eps, steps, step size and norm (exampleEps when set). The caller puts the network in eval mode.
torch::Tensor TradesAdversarial(Classifier& net, const torch::Tensor& images, const AttackConfig& attack,
                                at::Generator& generator);

TrainSummary TrainEpoch(ModelState& model, const TrainData& data, const TrainConfig& config,
                        const ProgressSink& report);

}  // namespace classwise
