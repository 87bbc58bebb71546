#include "apgd.h"

#include <algorithm>
#include <cmath>

#include "model_state.h"

namespace classwise {
namespace {

// Croce & Hein's constants: momentum weight, oscillation threshold, first checkpoint and its shrinkage.
constexpr double kMomentum = 0.75;
constexpr double kOscillationShare = 0.75;
constexpr double kFirstCheckpoint = 0.22;
constexpr double kCheckpointDecrease = 0.03;
constexpr double kMinCheckpointGap = 0.06;

struct Trajectory {
  torch::Tensor adversarial;  // best adversarial found (a success if any), else the highest-objective point
  torch::Tensor success;      // bool [N]
};

torch::Tensor Direction(const torch::Tensor& grad, const AttackConfig& config) {
  if (config.norm == AttackNorm::Linf) return grad.sign();
  return grad / grad.flatten(1).norm(2, 1).clamp_min(kTiny).view({-1, 1, 1, 1});
}

// One APGD run from `start` (images + delta). `towardsGoal`: descend the objective (targeted forms);
// `successIsTarget`: success means classified as the goal rather than misclassified.
Trajectory OneRun(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
                  const torch::Tensor& goal, const torch::Tensor& startDelta, const AttackConfig& config,
                  bool towardsGoal, bool successIsTarget) {
  const double sign = towardsGoal ? -1.0 : 1.0;
  auto evaluate = [&](const torch::Tensor& x, torch::Tensor& gain, torch::Tensor& grad, torch::Tensor& succeeded) {
    torch::Tensor input = x.detach().requires_grad_(true);
    torch::Tensor logits = model.forward(input);
    torch::Tensor objective = sign * AttackObjective(logits, labels, goal, config);
    grad = torch::autograd::grad({objective.sum()}, {input})[0];
    gain = objective.detach();
    succeeded = AttackSucceeded(logits.detach().argmax(1), labels, goal, successIsTarget);
  };
  auto column = [](const torch::Tensor& mask) { return mask.view({-1, 1, 1, 1}); };

  torch::Tensor x = images + startDelta;
  torch::Tensor gain, grad, succeeded;
  evaluate(x, gain, grad, succeeded);
  torch::NoGradGuard noGrad;
  torch::Tensor success = succeeded.clone();
  torch::Tensor bestAdversarial = x.clone();
  torch::Tensor best = x.clone();
  torch::Tensor bestGrad = grad.clone();
  torch::Tensor bestGain = gain.clone();
  torch::Tensor bestGainAtCheck = bestGain.clone();
  torch::Tensor reducedAtCheck = torch::ones_like(success);
  torch::Tensor increases = torch::zeros_like(gain);
  torch::Tensor previousGain = gain.clone();
  torch::Tensor stepSize = torch::full({images.size(0), 1, 1, 1}, 2.0 * config.eps, images.options());
  torch::Tensor previous = x.clone();

  const int64_t steps = config.steps;
  const int64_t decrease = std::max<int64_t>(static_cast<int64_t>(kCheckpointDecrease * steps), 1);
  const int64_t minGap = std::max<int64_t>(static_cast<int64_t>(kMinCheckpointGap * steps), 1);
  int64_t gap = std::max<int64_t>(static_cast<int64_t>(std::ceil(kFirstCheckpoint * steps)), 1);
  int64_t sinceCheck = 0;
  for (int64_t step = 0; step < steps; ++step) {
    {
      const double weight = step > 0 ? kMomentum : 1.0;
      torch::Tensor momentum = x - previous;
      previous = x;
      torch::Tensor z = images + ProjectPerturbation(images, x + stepSize * Direction(grad, config) - images, config);
      torch::Tensor moved = x + weight * (z - x) + (1.0 - weight) * momentum;
      x = images + ProjectPerturbation(images, moved - images, config);
    }
    {
      torch::AutoGradMode enable(true);
      evaluate(x, gain, grad, succeeded);
    }
    bestAdversarial = torch::where(column(succeeded), x, bestAdversarial);
    success = success.logical_or(succeeded);
    increases.add_(gain.gt(previousGain).to(increases.scalar_type()));
    previousGain = gain;
    torch::Tensor improved = gain.gt(bestGain);
    best = torch::where(column(improved), x, best);
    bestGrad = torch::where(column(improved), grad, bestGrad);
    bestGain = torch::where(improved, gain, bestGain);
    if (++sinceCheck == gap) {
      // Halve the step where the objective oscillated, or where it did not improve since the last
      // checkpoint without a halving there; such examples restart from their best point.
      torch::Tensor oscillated = increases.le(gap * kOscillationShare);
      torch::Tensor stalled = reducedAtCheck.logical_not().logical_and(bestGainAtCheck.ge(bestGain));
      torch::Tensor reduce = oscillated.logical_or(stalled);
      reducedAtCheck = reduce;
      bestGainAtCheck = bestGain.clone();
      stepSize = torch::where(column(reduce), stepSize * 0.5, stepSize);
      x = torch::where(column(reduce), best, x);
      grad = torch::where(column(reduce), bestGrad, grad);
      increases.zero_();
      sinceCheck = 0;
      gap = std::max(gap - decrease, minGap);
    }
  }
  return {torch::where(column(success), bestAdversarial, best), success};
}

void AttackWhereRobust(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
                       const torch::Tensor& goal, const torch::Tensor& startDelta, const AttackConfig& config,
                       bool towardsGoal, bool successIsTarget, torch::Tensor& adversarial, torch::Tensor& success) {
  torch::Tensor active = success.logical_not().nonzero().squeeze(1);
  if (active.numel() == 0) return;
  Trajectory run = OneRun(model, images.index_select(0, active), labels.index_select(0, active),
                          goal.index_select(0, active), startDelta.index_select(0, active), config, towardsGoal,
                          successIsTarget);
  torch::NoGradGuard noGrad;
  adversarial.index_copy_(0, active, run.adversarial);
  success.index_copy_(0, active, run.success);
}

}  // namespace

void ApgdInPlace(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
                 const torch::Tensor& targets, const torch::Tensor& cleanLogits, const AttackConfig& config,
                 at::Generator& local, torch::Tensor& adversarial, torch::Tensor& success) {
  const int64_t restarts = std::max<int64_t>(1, config.restarts);
  if (config.targetClasses > 0) {
    // APGD-T: the classes ranked 2nd, 3rd, ... by the clean logits, each in turn; success = misclassified.
    torch::Tensor ranked = std::get<1>(cleanLogits.sort(/*dim=*/1, /*descending=*/true));
    const int64_t count = std::min(config.targetClasses, cleanLogits.size(1) - 1);
    for (int64_t rank = 1; rank <= count; ++rank) {
      torch::Tensor goal = ranked.select(1, rank).contiguous();
      for (int64_t restart = 0; restart < restarts; ++restart) {
        torch::Tensor start = RandomStartPerturbation(images, config, local);
        AttackWhereRobust(model, images, labels, goal, start, config, /*towardsGoal=*/true,
                          /*successIsTarget=*/false, adversarial, success);
      }
    }
    return;
  }
  const torch::Tensor& goal = config.targeted ? targets : labels;
  for (int64_t restart = 0; restart < restarts; ++restart) {
    torch::Tensor start = RandomStartPerturbation(images, config, local);
    AttackWhereRobust(model, images, labels, goal, start, config, /*towardsGoal=*/config.targeted,
                      /*successIsTarget=*/config.targeted, adversarial, success);
  }
}

AttackResult RunApgd(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
                     const torch::Tensor& targets, const AttackConfig& config, at::Generator& generator) {
  FrozenParameters frozen(model);
  at::Generator local = BatchGenerator(generator, images.device());
  torch::Tensor cleanLogits = DecisionLogits(model, images);
  // Examples already misclassified (or already on target) need no attack, as in AutoAttack.
  torch::Tensor success = AttackSucceeded(cleanLogits.argmax(1), labels, targets, config.targeted);
  torch::Tensor adversarial = images.clone();
  ApgdInPlace(model, images, labels, targets, cleanLogits, config, local, adversarial, success);
  return {adversarial, DecisionLogits(model, adversarial).argmax(1)};
}

}  // namespace classwise
