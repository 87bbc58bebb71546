// Batched attacks on the input only. FGSM, FGSM-RS, CW-Linf and Temperature-PGD are PGD with another loss;
// APGD (apgd.cc), Square (square.cc) and the AutoAttack-style cascade share this configuration.
#pragma once

#include <torch/torch.h>

#include <optional>

#include "models.h"
#include "packed_conv.h"

namespace classwise {

enum class AttackNorm { Linf, L2 };

// Keeps L2 divisions and DLR's scale finite for zero gradients, perturbations or logit gaps.
inline constexpr double kTiny = 1e-12;

// The objective an attack ascends (untargeted) or descends (targeted towards targets).
enum class AttackLoss {
  Ce,   // cross-entropy of logits / temperature (temperature 1: plain PGD, same arithmetic)
  Cw,   // Carlini-Wagner margin: largest other logit minus the logit of the class
  Dlr,  // Croce & Hein's difference of logits ratio (targeted form when targets are set)
};

enum class AttackAlgorithm {
  Pgd,       // fixed step size, sign (Linf) or normalised (L2) gradient
  Apgd,      // Croce & Hein 2020: step-size halving at checkpoints, momentum 0.75
  Square,    // Andriushchenko et al. 2020: score-based random search, Linf
  Fab,       // FAB-T, Linf (Croce & Hein 2020): targeted minimal-perturbation boundary attack
  Ensemble,  // AutoAttack-style cascade over the stages below, each on the points still robust
};

// Stages of the ensemble, in cascade order (the standard AutoAttack runs all four).
struct EnsembleStages {
  bool apgdCe = true;
  bool apgdTargeted = true;
  bool fabTargeted = true;
  bool square = true;
};

struct AttackConfig {
  bool enabled = false;  // false: clean evaluation, the "adversarial" image is the clean one
  AttackNorm norm = AttackNorm::Linf;
  double eps = 0;
  double stepSize = 0;
  int64_t steps = 0;
  int64_t restarts = 1;
  bool randomStart = true;
  bool targeted = false;  // then targets are given per example
  AttackAlgorithm algorithm = AttackAlgorithm::Pgd;
  AttackLoss loss = AttackLoss::Ce;
  double temperature = 1.0;    // Ce only
  int64_t targetClasses = 0;   // APGD-T, FAB-T: attack each of the top-k other classes in turn (0: off)
  int64_t queries = 5000;      // Square: model evaluations per example and restart
  double squareFraction = 0.8; // Square: initial share of pixels changed per query (p_init)
  // Square: the window schedule written for 10,000 queries is rescaled to `queries` (the paper's and
  // torchattacks' default); false: halvings at fixed query counts 10/50/200/500/1000/2000/4000/6000/8000,
  // as the standard AutoAttack runs Square (resc_schedule=False).
  bool squareRescale = true;
  EnsembleStages stages;
  // Optional per-example budget [N,1,1,1] (class-wise epsilon in training); step sizes scale with it.
  torch::Tensor exampleEps;
  // Data-parallel training: this batch is rows noiseShard, noiseShard + noiseShards, ... of the global batch. The
  // random start is drawn for the global batch and these rows kept, so every example starts where one process
  // training on the global batch would start it.
  int64_t noiseShards = 1;
  int64_t noiseShard = 0;
};

// Per-example objective: ascended by untargeted attacks, descended by targeted ones.
// `labels` are the true classes, `goal` the labels (untargeted) or the targets (targeted).
torch::Tensor AttackObjective(const torch::Tensor& logits, const torch::Tensor& labels, const torch::Tensor& goal,
                              const AttackConfig& config);

// Per example: the attack has succeeded (misclassified, or classified as the target when targeted).
torch::Tensor AttackSucceeded(const torch::Tensor& predictions, const torch::Tensor& labels,
                              const torch::Tensor& targets, bool targeted);

// Projects delta onto the eps-ball and keeps images + delta inside [0,1].
torch::Tensor ProjectPerturbation(const torch::Tensor& images, torch::Tensor delta, const AttackConfig& config);

// A uniform start inside the ball, drawn for the whole batch (so each example's draw depends on its position
// in the batch only, not on which other examples are still being attacked).
torch::Tensor RandomStartPerturbation(const torch::Tensor& images, const AttackConfig& config,
                                      at::Generator& generator);

// A fresh generator for one batch, seeded from the call's generator, so that attacks sharing a seed
// (an ensemble stage and the same attack run alone) draw the same noise for the same batch.
uint64_t BatchSeed(at::Generator& generator);
at::Generator BatchGenerator(at::Generator& generator, const torch::Device& device);

struct AttackResult {
  torch::Tensor adversarial;  // same shape as the images, in [0,1], within eps of them
  torch::Tensor predictions;  // int64 [N], the model's class for each adversarial image
  // Ensemble only, int64 [N]: kStageRobust, kStageClean, or 1 + the index of the stage that broke it.
  torch::Tensor brokenBy;
};

inline constexpr int64_t kStageRobust = -1;
inline constexpr int64_t kStageClean = 0;

// Runs the attack with the model's parameters frozen; the caller chooses train/eval mode.
// Over restarts each example keeps its worst case: a success if any restart succeeded, else the
// restart with the highest loss (untargeted) or lowest target loss (targeted).
AttackResult RunAttack(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
                       const torch::Tensor& targets, const AttackConfig& config, at::Generator& generator);

// The adversarial images a training step learns from (untargeted, against the labels). A single PGD run returns
// its last iterate without RunAttack's scoring forward, which training does not use and which would update
// BatchNorm's running statistics once more per batch than the usual training scripts do; the noise drawn is the
// same as RunAttack's.
torch::Tensor TrainingAdversarial(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
                                  const AttackConfig& config, at::Generator& generator);

// Freezes parameters for the guard's lifetime so attack steps build no weight-gradient graph. Under bf16 autocast
// on the CPU it also hands the convolutions and linear layers their weights already in bf16, cast once for the
// whole attack instead of at every forward pass (autocast caches casts only of weights that require gradients):
// the same rounding, so the same numbers, and packs them for oneDNN once per input shape (packed_conv.h). Not on
// CUDA, where a captured graph would keep the addresses of one batch's casts.
class FrozenParameters {
 public:
  explicit FrozenParameters(torch::nn::Module& module);
  ~FrozenParameters();
  FrozenParameters(const FrozenParameters&) = delete;
  FrozenParameters& operator=(const FrozenParameters&) = delete;

 private:
  friend torch::Tensor DecisionLogits(Classifier& model, const torch::Tensor& images);
  std::vector<torch::Tensor> frozen_;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> castWeights_;  // parameter, its fp32 data
  std::optional<PackedWeightsScope> packed_;                           // with castWeights_ only
};

// Decisions are made in fp32 whatever the call's precision: bf16 finds the adversarial examples, fp32 judges
// them. A decision is a prediction a call reports (clean or adversarial) or one that chooses between candidates
// (restart scoring, the points a cascade's next stage attacks, the points an attack skips as already broken).
// Steps inside an attack stay in the call's precision. Why: bf16 logits move near-ties, and a class whose images
// sit near a boundary moves with them (Fashion-MNIST's Coat by 1.4 points, the same model judged both ways).
// No gradient; under autocast it turns autocast off and gives the forward pass the fp32 weights.
torch::Tensor DecisionLogits(Classifier& model, const torch::Tensor& images);

// True when this thread runs `device`'s work below fp32, so flags an attack set inside its loop are judged again.
bool DecisionsRejudged(const torch::Device& device);

}  // namespace classwise
