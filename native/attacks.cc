#include "attacks.h"

#include <limits>

#include "apgd.h"
#include "cuda_pipeline.h"
#include "ensemble.h"
#include "fab.h"
#include "fast_path.h"
#include "model_state.h"
#include "square.h"

namespace classwise {
namespace {

namespace F = torch::nn::functional;

torch::Tensor PerExampleL2(const torch::Tensor& t) {
  return t.flatten(1).norm(2, 1).clamp_min(kTiny).view({-1, 1, 1, 1});
}

torch::Tensor RandomStart(const torch::Tensor& images, const AttackConfig& config, at::Generator& generator) {
  std::vector<int64_t> shape = images.sizes().vec();
  shape[0] *= config.noiseShards;
  torch::Tensor delta = torch::empty(shape, images.options());
  if (config.norm == AttackNorm::Linf) {
    delta.uniform_(-config.eps, config.eps, generator);
  } else {
    // Uniform direction, radius uniform in [0, eps].
    delta.normal_(0.0, 1.0, generator);
    torch::Tensor radius = torch::empty({shape[0], 1, 1, 1}, images.options()).uniform_(0.0, 1.0, generator);
    delta = delta / PerExampleL2(delta) * radius * config.eps;
  }
  if (config.noiseShards > 1) delta = delta.slice(0, config.noiseShard, shape[0], config.noiseShards).contiguous();
  // A per-example budget rescales the draw (made for eps) to each example's own ball.
  if (config.exampleEps.defined() && config.eps > 0) delta = delta * (config.exampleEps / config.eps);
  return ProjectPerturbation(images, delta, config);
}

// Temperature 1 returns the logits untouched, so Temperature-PGD at T = 1 is PGD bit for bit.
torch::Tensor Tempered(const torch::Tensor& logits, const AttackConfig& config) {
  return config.temperature == 1.0 ? logits : logits / config.temperature;
}

// Largest logit among the classes other than cls[i], per example.
torch::Tensor LargestOther(const torch::Tensor& logits, const torch::Tensor& cls) {
  return logits.scatter(1, cls.unsqueeze(1), -std::numeric_limits<double>::infinity()).amax(1);
}

torch::Tensor LogitOf(const torch::Tensor& logits, const torch::Tensor& cls) {
  return logits.gather(1, cls.unsqueeze(1)).squeeze(1);
}

// The PGD steps from `start`: no host sync and fixed shapes, so cuda_pipeline.cc can capture them as a graph.
torch::Tensor PgdStepsFrom(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
                           const torch::Tensor& goal, const torch::Tensor& start, const AttackConfig& config) {
  torch::Tensor delta = start.detach();
  // Untargeted ascends the loss of the true class; targeted descends the loss of the target.
  const double direction = config.targeted ? -1.0 : 1.0;
  // With class-wise budgets each example's step keeps its ratio to its own eps.
  torch::Tensor stepScale = config.exampleEps.defined() && config.eps > 0 ? config.exampleEps / config.eps
                                                                          : torch::Tensor();
  for (int64_t step = 0; step < config.steps; ++step) {
    delta.requires_grad_(true);
    torch::Tensor logits = model.forward(images + delta);
    torch::Tensor loss = config.loss == AttackLoss::Ce
                             ? F::cross_entropy(Tempered(logits, config), goal,
                                                F::CrossEntropyFuncOptions().reduction(torch::kSum))
                             : AttackObjective(logits, labels, goal, config).sum();
    torch::Tensor grad = torch::autograd::grad({loss}, {delta})[0];
    torch::NoGradGuard noGrad;
    delta = delta.detach();
    if (stepScale.defined()) {
      torch::Tensor move = config.norm == AttackNorm::Linf ? grad.sign() : grad / PerExampleL2(grad);
      delta = delta + (direction * config.stepSize) * move * stepScale;
    } else if (config.norm == AttackNorm::Linf) {
      delta = delta + (direction * config.stepSize) * grad.sign();
    } else {
      delta = delta + (direction * config.stepSize) * grad / PerExampleL2(grad);
    }
    delta = ProjectPerturbation(images, delta, config);
  }
  return delta.detach();
}

torch::Tensor OneRestart(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
                         const torch::Tensor& goal, const AttackConfig& config, at::Generator& generator) {
  torch::Tensor start = config.randomStart ? RandomStart(images, config, generator) : torch::zeros_like(images);
  return RunPgdSteps(images, labels, goal, start, config,
                     [&](const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& g, const torch::Tensor& d) {
                       return PgdStepsFrom(model, x, y, g, d, config);
                     });
}

}  // namespace

torch::Tensor ProjectPerturbation(const torch::Tensor& images, torch::Tensor delta, const AttackConfig& config) {
  if (config.exampleEps.defined()) {
    const torch::Tensor& eps = config.exampleEps;
    delta = config.norm == AttackNorm::Linf ? torch::max(torch::min(delta, eps), -eps)
                                            : delta * (eps / PerExampleL2(delta)).clamp_max(1.0);
  } else if (config.norm == AttackNorm::Linf) {
    delta = delta.clamp(-config.eps, config.eps);
  } else {
    delta = delta * (config.eps / PerExampleL2(delta)).clamp_max(1.0);
  }
  return (images + delta).clamp(0.0, 1.0) - images;
}

torch::Tensor RandomStartPerturbation(const torch::Tensor& images, const AttackConfig& config,
                                      at::Generator& generator) {
  return RandomStart(images, config, generator);
}

torch::Tensor AttackObjective(const torch::Tensor& logits, const torch::Tensor& labels, const torch::Tensor& goal,
                              const AttackConfig& config) {
  namespace F = torch::nn::functional;
  switch (config.loss) {
    case AttackLoss::Ce:
      return F::cross_entropy(Tempered(logits, config), goal, F::CrossEntropyFuncOptions().reduction(torch::kNone));
    case AttackLoss::Cw:
      return LargestOther(logits, goal) - LogitOf(logits, goal);
    case AttackLoss::Dlr: {
      const int64_t classes = logits.size(1);
      torch::Tensor sorted = std::get<0>(logits.sort(/*dim=*/1, /*descending=*/true));
      const bool targeted = config.targeted || config.targetClasses > 0;
      // Too few classes for DLR's scale: it falls back to the unscaled margin (the CW loss).
      if (!targeted) {
        torch::Tensor scale = classes >= 3 ? sorted.select(1, 0) - sorted.select(1, 2) + kTiny
                                           : torch::ones_like(sorted.select(1, 0));
        return (LargestOther(logits, labels) - LogitOf(logits, labels)) / scale;
      }
      torch::Tensor scale = classes >= 4
                                ? sorted.select(1, 0) - 0.5 * (sorted.select(1, 2) + sorted.select(1, 3)) + kTiny
                                : torch::ones_like(sorted.select(1, 0));
      return (LogitOf(logits, labels) - LogitOf(logits, goal)) / scale;
    }
  }
  return torch::Tensor();
}

torch::Tensor AttackSucceeded(const torch::Tensor& predictions, const torch::Tensor& labels,
                              const torch::Tensor& targets, bool targeted) {
  return targeted ? predictions.eq(targets) : predictions.ne(labels);
}

uint64_t BatchSeed(at::Generator& generator) {
  return static_cast<uint64_t>(torch::randint(0, int64_t(1) << 62, {1}, generator,
                                              torch::TensorOptions().dtype(torch::kInt64).device(generator.device()))
                                   .item<int64_t>());
}

at::Generator BatchGenerator(at::Generator& generator, const torch::Device& device) {
  return MakeGenerator(device, BatchSeed(generator));
}

namespace {
// The outermost FrozenParameters on this thread that holds bf16 copies (nested ones find the weights cast).
thread_local FrozenParameters* castingFrozen = nullptr;
}  // namespace

FrozenParameters::FrozenParameters(torch::nn::Module& module) {
  for (auto& parameter : module.parameters()) {
    if (parameter.requires_grad()) {
      parameter.requires_grad_(false);
      frozen_.push_back(parameter);
    }
  }
  const std::optional<at::ScalarType> lower = AutocastLowerDtype(c10::DeviceType::CPU);
  if (!lower) return;
  torch::NoGradGuard noGrad;
  for (const std::shared_ptr<torch::nn::Module>& layer : module.modules()) {
    torch::Tensor weight;
    if (auto* conv = layer->as<torch::nn::Conv2d>()) weight = conv->weight;
    else if (auto* linear = layer->as<torch::nn::Linear>()) weight = linear->weight;
    if (!weight.defined() || !weight.device().is_cpu() || weight.scalar_type() != torch::kFloat32) continue;
    castWeights_.emplace_back(weight, weight.data());
    weight.set_data(weight.to(*lower));
  }
  if (!castWeights_.empty() && castingFrozen == nullptr) {
    castingFrozen = this;
    packed_.emplace();
  }
}

FrozenParameters::~FrozenParameters() {
  if (castingFrozen == this) castingFrozen = nullptr;
  for (auto& [weight, fp32] : castWeights_) weight.set_data(fp32);
  for (auto& parameter : frozen_) parameter.requires_grad_(true);
}

bool DecisionsRejudged(const torch::Device& device) { return AutocastLowerDtype(device.type()).has_value(); }

torch::Tensor DecisionLogits(Classifier& model, const torch::Tensor& images) {
  torch::NoGradGuard noGrad;
  const c10::DeviceType type = images.device().type();
  if (!AutocastLowerDtype(type)) return model.forward(images);
  AutocastSuspended fp32(type);
  // The attack's bf16 copies step aside for this pass and come back even if it throws.
  struct Fp32Weights {
    std::vector<std::pair<torch::Tensor, torch::Tensor>>* cast = nullptr;  // parameter, its fp32 data
    std::vector<torch::Tensor> lowered;
    ~Fp32Weights() {
      for (size_t i = 0; i < lowered.size(); ++i) (*cast)[i].first.set_data(lowered[i]);
    }
  } fp32Weights;
  if (castingFrozen != nullptr) {
    fp32Weights.cast = &castingFrozen->castWeights_;
    for (auto& [weight, fp32Data] : castingFrozen->castWeights_) {
      fp32Weights.lowered.push_back(weight.data());
      weight.set_data(fp32Data);
    }
  }
  return model.forward(images);
}

AttackResult RunAttack(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
                       const torch::Tensor& targets, const AttackConfig& config, at::Generator& generator) {
  if (!config.enabled) return {images, DecisionLogits(model, images).argmax(1)};
  switch (config.algorithm) {
    case AttackAlgorithm::Apgd: return RunApgd(model, images, labels, targets, config, generator);
    case AttackAlgorithm::Square: return RunSquare(model, images, labels, targets, config, generator);
    case AttackAlgorithm::Fab: return RunFab(model, images, labels, config, generator);
    case AttackAlgorithm::Ensemble: return RunEnsemble(model, images, labels, config, generator);
    case AttackAlgorithm::Pgd: break;
  }
  FrozenParameters frozen(model);
  const torch::Tensor& goal = config.targeted ? targets : labels;
  torch::Tensor best;
  torch::Tensor bestScore;
  torch::Tensor bestPredictions;
  for (int64_t restart = 0; restart < std::max<int64_t>(1, config.restarts); ++restart) {
    torch::Tensor delta = OneRestart(model, images, labels, goal, config, generator);
    torch::NoGradGuard noGrad;
    torch::Tensor logits = DecisionLogits(model, images + delta);
    torch::Tensor predictions = logits.argmax(1);
    torch::Tensor loss = AttackObjective(logits, labels, goal, config);
    torch::Tensor success = AttackSucceeded(predictions, labels, targets, config.targeted);
    // A success outranks any loss; among equals the stronger loss wins.
    torch::Tensor score = (config.targeted ? -loss : loss) + success.to(loss.dtype()) * 1e30;
    if (restart == 0) {
      best = delta;
      bestScore = score;
      bestPredictions = predictions;
    } else {
      torch::Tensor better = score > bestScore;
      best = torch::where(better.view({-1, 1, 1, 1}), delta, best);
      bestScore = torch::where(better, score, bestScore);
      bestPredictions = torch::where(better, predictions, bestPredictions);
    }
  }
  torch::NoGradGuard noGrad;
  return {(images + best).clamp(0.0, 1.0), bestPredictions};
}

torch::Tensor TrainingAdversarial(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
                                  const AttackConfig& config, at::Generator& generator) {
  if (!config.enabled || config.algorithm != AttackAlgorithm::Pgd || config.targeted || config.restarts > 1) {
    return RunAttack(model, images, labels, labels, config, generator).adversarial;
  }
  FrozenParameters frozen(model);
  torch::Tensor delta = OneRestart(model, images, labels, labels, config, generator);
  torch::NoGradGuard noGrad;
  return (images + delta).clamp(0.0, 1.0);
}

}  // namespace classwise
