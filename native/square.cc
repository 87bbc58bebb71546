#include "square.h"

#include <algorithm>
#include <cmath>

#include "model_state.h"

namespace classwise {
namespace {

// The query schedule is written for 10,000 queries; rescaled to the budget unless config.squareRescale is off.
constexpr double kScheduleQueries = 10000;

// Share of pixels in the window at iteration `iteration` (Andriushchenko et al.'s piecewise-constant schedule).
double WindowShare(int64_t iteration, int64_t queries, double initial, bool rescale) {
  const double it = rescale ? std::floor(iteration / static_cast<double>(queries) * kScheduleQueries)
                            : static_cast<double>(iteration);
  const double bounds[] = {10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000};
  double share = initial;
  for (double bound : bounds) {
    if (it > bound) share /= 2;
  }
  return share;
}

// Negative once the attack succeeds: untargeted, logit of the class minus the largest other;
// targeted, the largest other than the target minus the target's.
torch::Tensor Margin(const torch::Tensor& logits, const torch::Tensor& labels, const torch::Tensor& targets,
                     bool targeted) {
  const torch::Tensor& cls = targeted ? targets : labels;
  torch::Tensor own = logits.gather(1, cls.unsqueeze(1)).squeeze(1);
  torch::Tensor other = logits.scatter(1, cls.unsqueeze(1), -std::numeric_limits<double>::infinity()).amax(1);
  return targeted ? other - own : own - other;
}

// One restart on the examples where `success` is false. Noise is drawn for the whole batch every query, so an
// example's path depends on its position only; the model (the whole cost) runs on the active examples only,
// and every tensor operation per query is sized by them.
void OneRestart(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
                const torch::Tensor& targets, const AttackConfig& config, at::Generator& local,
                torch::Tensor& adversarial, torch::Tensor& success) {
  const int64_t n = images.size(0), channels = images.size(1), height = images.size(2), width = images.size(3);
  auto intOptions = torch::TensorOptions().dtype(torch::kInt64).device(images.device());
  const double eps = config.eps;
  auto randomSigns = [&](std::vector<int64_t> shape) {
    return torch::randint(0, 2, shape, local, intOptions).to(images.scalar_type()) * 2 - 1;
  };
  // Start: vertical stripes of +-eps, one sign per channel and column.
  torch::Tensor stripes = randomSigns({n, channels, 1, width});
  torch::Tensor members = success.logical_not().nonzero().squeeze(1);  // positions in the batch
  if (members.numel() == 0) return;
  torch::Tensor original = images.index_select(0, members);
  torch::Tensor memberLabels = labels.index_select(0, members), memberTargets = targets.index_select(0, members);
  torch::Tensor best = (original + eps * stripes.index_select(0, members)).clamp(0.0, 1.0);
  torch::Tensor margin = Margin(model.forward(best), memberLabels, memberTargets, config.targeted);
  torch::Tensor rows = torch::arange(height, intOptions).view({1, 1, -1, 1});
  torch::Tensor cols = torch::arange(width, intOptions).view({1, 1, 1, -1});
  // `queries` iterations after the start, as in the reference (queries + 1 model evaluations at most).
  for (int64_t iteration = 0; iteration < config.queries; ++iteration) {
    const double share = WindowShare(iteration, config.queries, config.squareFraction, config.squareRescale);
    int64_t side = static_cast<int64_t>(std::lround(std::sqrt(share * height * width)));
    side = std::max<int64_t>(1, std::min(side, std::min(height, width)));
    torch::Tensor top = torch::randint(0, height - side + 1, {n}, local, intOptions);
    torch::Tensor left = torch::randint(0, width - side + 1, {n}, local, intOptions);
    torch::Tensor signs = randomSigns({n, channels, 1, 1});
    torch::Tensor active = margin.gt(0).nonzero().squeeze(1);  // rows of `best` still to fool
    if (active.numel() == 0) break;
    torch::Tensor positions = members.index_select(0, active);  // their positions in the batch
    torch::Tensor activeTop = top.index_select(0, positions).view({-1, 1, 1, 1});
    torch::Tensor activeLeft = left.index_select(0, positions).view({-1, 1, 1, 1});
    torch::Tensor window = rows.ge(activeTop) & rows.lt(activeTop + side) & cols.ge(activeLeft) &
                           cols.lt(activeLeft + side);
    torch::Tensor current = best.index_select(0, active);
    torch::Tensor candidate = torch::where(
        window, (original.index_select(0, active) + eps * signs.index_select(0, positions)).clamp(0.0, 1.0), current);
    torch::Tensor candidateMargin = Margin(model.forward(candidate), memberLabels.index_select(0, active),
                                           memberTargets.index_select(0, active), config.targeted);
    torch::Tensor currentMargin = margin.index_select(0, active);
    torch::Tensor improved = candidateMargin.lt(currentMargin);
    best.index_copy_(0, active, torch::where(improved.view({-1, 1, 1, 1}), candidate, current));
    margin.index_copy_(0, active, torch::where(improved, candidateMargin, currentMargin));
  }
  torch::Tensor fooled = margin.lt(0).nonzero().squeeze(1);
  if (fooled.numel() == 0) return;
  torch::Tensor broken = members.index_select(0, fooled);
  adversarial.index_copy_(0, broken, best.index_select(0, fooled));
  success.index_fill_(0, broken, true);
}

}  // namespace

void SquareInPlace(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
                   const torch::Tensor& targets, const AttackConfig& config, at::Generator& local,
                   torch::Tensor& adversarial, torch::Tensor& success) {
  torch::NoGradGuard noGrad;
  // Each restart searches afresh from new stripes, on the points every earlier restart left robust.
  for (int64_t restart = 0; restart < std::max<int64_t>(1, config.restarts); ++restart) {
    OneRestart(model, images, labels, targets, config, local, adversarial, success);
  }
}

AttackResult RunSquare(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
                       const torch::Tensor& targets, const AttackConfig& config, at::Generator& generator) {
  torch::NoGradGuard noGrad;
  at::Generator local = BatchGenerator(generator, images.device());
  torch::Tensor predictions = DecisionLogits(model, images).argmax(1);
  torch::Tensor success = AttackSucceeded(predictions, labels, targets, config.targeted);
  torch::Tensor adversarial = images.clone();
  SquareInPlace(model, images, labels, targets, config, local, adversarial, success);
  return {adversarial, DecisionLogits(model, adversarial).argmax(1)};
}

}  // namespace classwise
