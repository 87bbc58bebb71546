#include "attacks.h"

#include <limits>

namespace classwise {
namespace {

namespace F = torch::nn::functional;

// Keeps L2 divisions finite for zero gradients or perturbations.
constexpr double kTiny = 1e-12;

torch::Tensor PerExampleL2(const torch::Tensor& t) {
  return t.flatten(1).norm(2, 1).clamp_min(kTiny).view({-1, 1, 1, 1});
}

// Projects delta onto the eps-ball and keeps images + delta inside [0,1].
torch::Tensor Project(const torch::Tensor& images, torch::Tensor delta, const AttackConfig& config) {
  if (config.norm == AttackNorm::Linf) {
    delta = delta.clamp(-config.eps, config.eps);
  } else {
    delta = delta * (config.eps / PerExampleL2(delta)).clamp_max(1.0);
  }
  return (images + delta).clamp(0.0, 1.0) - images;
}

torch::Tensor RandomStart(const torch::Tensor& images, const AttackConfig& config, at::Generator& generator) {
  torch::Tensor delta = torch::empty_like(images);
  if (config.norm == AttackNorm::Linf) {
    delta.uniform_(-config.eps, config.eps, generator);
  } else {
    // Uniform direction, radius uniform in [0, eps].
    delta.normal_(0.0, 1.0, generator);
    torch::Tensor radius = torch::empty({images.size(0), 1, 1, 1}, images.options()).uniform_(0.0, 1.0, generator);
    delta = delta / PerExampleL2(delta) * radius * config.eps;
  }
  return Project(images, delta, config);
}

torch::Tensor OneRestart(Classifier& model, const torch::Tensor& images, const torch::Tensor& goal,
                         const AttackConfig& config, at::Generator& generator) {
  torch::Tensor delta = config.randomStart ? RandomStart(images, config, generator) : torch::zeros_like(images);
  // Untargeted ascends the loss of the true class; targeted descends the loss of the target.
  const double direction = config.targeted ? -1.0 : 1.0;
  for (int64_t step = 0; step < config.steps; ++step) {
    delta.requires_grad_(true);
    torch::Tensor logits = model.forward(images + delta);
    torch::Tensor loss = F::cross_entropy(logits, goal, F::CrossEntropyFuncOptions().reduction(torch::kSum));
    torch::Tensor grad = torch::autograd::grad({loss}, {delta})[0];
    torch::NoGradGuard noGrad;
    delta = delta.detach();
    if (config.norm == AttackNorm::Linf) {
      delta = delta + (direction * config.stepSize) * grad.sign();
    } else {
      delta = delta + (direction * config.stepSize) * grad / PerExampleL2(grad);
    }
    delta = Project(images, delta, config);
  }
  return delta.detach();
}

}  // namespace

FrozenParameters::FrozenParameters(torch::nn::Module& module) {
  for (auto& parameter : module.parameters()) {
    if (parameter.requires_grad()) {
      parameter.requires_grad_(false);
      frozen_.push_back(parameter);
    }
  }
}

FrozenParameters::~FrozenParameters() {
  for (auto& parameter : frozen_) parameter.requires_grad_(true);
}

AttackResult RunAttack(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
                       const torch::Tensor& targets, const AttackConfig& config, at::Generator& generator) {
  if (!config.enabled) {
    torch::NoGradGuard noGrad;
    return {images, model.forward(images).argmax(1)};
  }
  FrozenParameters frozen(model);
  const torch::Tensor& goal = config.targeted ? targets : labels;
  torch::Tensor best;
  torch::Tensor bestScore;
  torch::Tensor bestPredictions;
  for (int64_t restart = 0; restart < std::max<int64_t>(1, config.restarts); ++restart) {
    torch::Tensor delta = OneRestart(model, images, goal, config, generator);
    torch::NoGradGuard noGrad;
    torch::Tensor logits = model.forward(images + delta);
    torch::Tensor predictions = logits.argmax(1);
    torch::Tensor loss = F::cross_entropy(logits, goal, F::CrossEntropyFuncOptions().reduction(torch::kNone));
    torch::Tensor success = config.targeted ? predictions.eq(targets) : predictions.ne(labels);
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

}  // namespace classwise
