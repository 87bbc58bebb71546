#include "fab.h"

#include <algorithm>
#include <cmath>

#include "model_state.h"

namespace classwise {
namespace {

// FAB's constants as the standard AutoAttack sets them: largest bias towards the original image,
// overshoot past the linearised boundary, and the backward step after each success.
constexpr double kAlphaMax = 0.1;
constexpr double kEta = 1.05;
constexpr double kBeta = 0.9;
// A distance meaning "no adversarial point found yet".
constexpr double kNotFound = 1e10;

torch::Tensor Column(const torch::Tensor& perExample) { return perExample.view({-1, 1, 1, 1}); }

torch::Tensor LinfDistance(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().flatten(1).amax(1);
}

struct FabRun {
  torch::Tensor adversarial;  // the closest misclassified point found, else the image
  torch::Tensor distance;     // its Linf distance, kNotFound where none was found
};

// One FAB-T run from `start` towards `target` on a sub-batch (every example runs every step: FAB has no
// early stop, it keeps shrinking the perturbation of points already broken).
FabRun OneRun(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
              const torch::Tensor& target, const torch::Tensor& start, int64_t steps) {
  const int64_t n = images.size(0);
  torch::Tensor original = images.flatten(1);
  torch::Tensor x = start.clone();
  torch::Tensor best = images.clone();
  torch::Tensor distance = torch::full({n}, kNotFound, images.options());
  for (int64_t step = 0; step < steps; ++step) {
    torch::Tensor difference, gradient;
    {
      torch::AutoGradMode enable(true);
      torch::Tensor input = x.detach().requires_grad_(true);
      torch::Tensor logits = model.forward(input);
      // Target logit minus true logit: negative while the point is still on the true side.
      torch::Tensor gap = logits.gather(1, target.unsqueeze(1)).squeeze(1) -
                          logits.gather(1, labels.unsqueeze(1)).squeeze(1);
      gradient = torch::autograd::grad({gap.sum()}, {input})[0];
      difference = gap.detach();
    }
    torch::NoGradGuard noGrad;
    // Linearised boundary w.z = b through the current point; project both x and the original onto it.
    torch::Tensor w = gradient.flatten(1);
    torch::Tensor b = -difference + (w * x.flatten(1)).sum(1);
    torch::Tensor projected = ProjectOntoHyperplaneLinf(torch::cat({x.flatten(1), original}, 0),
                                                     torch::cat({w, w}, 0), torch::cat({b, b}, 0));
    torch::Tensor fromCurrent = projected.narrow(0, 0, n).view_as(x);
    torch::Tensor fromOriginal = projected.narrow(0, n, n).view_as(x);
    torch::Tensor size = projected.abs().amax(1).clamp_min(1e-8);
    torch::Tensor sizeCurrent = size.narrow(0, 0, n), sizeOriginal = size.narrow(0, n, n);
    // The nearer the boundary is to the original, the more the step leans towards it.
    torch::Tensor alpha = Column((sizeCurrent / (sizeCurrent + sizeOriginal)).clamp(0.0, kAlphaMax));
    x = ((x + kEta * fromCurrent) * (1 - alpha) + (images + kEta * fromOriginal) * alpha).clamp(0.0, 1.0);
    torch::Tensor broken = model.forward(x).argmax(1).ne(labels);
    torch::Tensor reach = LinfDistance(x, images);
    torch::Tensor closer = broken.logical_and(reach.lt(distance));
    best = torch::where(Column(closer), x, best);
    distance = torch::where(closer, reach, distance);
    // After a success, step back towards the original to look for a smaller perturbation.
    x = torch::where(Column(broken), images + (x - images) * kBeta, x);
  }
  return {best, distance};
}

}  // namespace

torch::Tensor ProjectOntoHyperplaneLinf(const torch::Tensor& t, torch::Tensor w, torch::Tensor b) {
  const int64_t dims = w.size(1);
  // Orient each hyperplane so that t lies on its negative side.
  torch::Tensor side = ((w * t).sum(1) - b).ge(0).to(w.scalar_type()) * 2 - 1;
  w = w * side.unsqueeze(1);
  b = b * side;
  torch::Tensor usable = w.ne(0).to(w.scalar_type());
  // a: the box corner each coordinate moves towards (0 where w < 0 ... 1 where w > 0 after orientation).
  torch::Tensor a = w.lt(0).to(w.scalar_type());
  torch::Tensor d = (a - t) * usable;
  // Largest move each coordinate allows before hitting the box, sorted.
  torch::Tensor room = a - t * (2 * a - 1);
  torch::Tensor order = std::get<1>(room.sort(/*dim=*/1, /*descending=*/false));
  b = b - (w * t).sum(1);
  torch::Tensor fullGain = (w * d).sum(1);
  torch::Tensor reversed = order.flip({1});
  torch::Tensor wSorted = w.gather(1, reversed);
  torch::Tensor dGain = -wSorted * d.gather(1, reversed);
  torch::Tensor slope = wSorted.abs().cumsum(1);
  torch::Tensor intercept = dGain.cumsum(1) + fullGain.unsqueeze(1);
  torch::Tensor lastIntercept = intercept.select(1, dims - 1), lastSlope = slope.select(1, dims - 1);
  torch::Tensor atSmallest = lastIntercept - lastSlope * room.gather(1, order.narrow(1, 0, 1)).squeeze(1);
  // Rows whose hyperplane is reached before any coordinate saturates, and rows that need a search.
  torch::Tensor unsaturated = (b - atSmallest).gt(0);
  torch::Tensor searched = (b - fullGain).gt(0).logical_and(unsaturated.logical_not());
  torch::Tensor rows = unsaturated.nonzero().squeeze(1);
  if (rows.numel() > 0) {
    torch::Tensor lambda = ((b.index_select(0, rows) - lastIntercept.index_select(0, rows)) /
                            (-lastSlope.index_select(0, rows)))
                               .clamp_min(0)
                               .unsqueeze(1);
    d.index_copy_(0, rows, (2 * a.index_select(0, rows) - 1) * lambda);
  }
  rows = searched.nonzero().squeeze(1);
  if (rows.numel() > 0) {
    torch::Tensor order2 = order.index_select(0, rows), intercept2 = intercept.index_select(0, rows);
    torch::Tensor slope2 = slope.index_select(0, rows), room2 = room.index_select(0, rows);
    torch::Tensor b2 = b.index_select(0, rows);
    // Bisection over how many coordinates saturate.
    torch::Tensor low = torch::zeros({rows.size(0)}, w.options());
    torch::Tensor high = torch::full({rows.size(0)}, static_cast<double>(dims - 1), w.options());
    const int64_t iterations = static_cast<int64_t>(std::ceil(std::log2(static_cast<double>(dims))));
    for (int64_t i = 0; i < iterations; ++i) {
      torch::Tensor middle = ((low + high) / 2).floor();
      torch::Tensor index = middle.to(torch::kInt64).unsqueeze(1);
      torch::Tensor coordinate = order2.gather(1, (dims - 1) - index);
      torch::Tensor value = (intercept2.gather(1, index) - slope2.gather(1, index) * room2.gather(1, coordinate))
                                .squeeze(1);
      torch::Tensor below = (b2 - value).gt(0);
      low = torch::where(below, middle, low);
      high = torch::where(below, high, middle);
    }
    torch::Tensor index = low.to(torch::kInt64).unsqueeze(1);
    torch::Tensor lambda = ((b2 - intercept2.gather(1, index).squeeze(1)) / (-slope2.gather(1, index).squeeze(1)))
                               .clamp_min(0)
                               .unsqueeze(1);
    torch::Tensor a2 = a.index_select(0, rows), d2 = d.index_select(0, rows);
    d.index_copy_(0, rows, torch::minimum(lambda, d2) * a2 + torch::maximum(-lambda, d2) * (1 - a2));
  }
  return d * usable;
}

void FabInPlace(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
                const torch::Tensor& cleanLogits, const AttackConfig& config, at::Generator& local,
                torch::Tensor& adversarial, torch::Tensor& success) {
  torch::Tensor ranked = std::get<1>(cleanLogits.sort(/*dim=*/1, /*descending=*/true));
  const int64_t count = std::min(config.targetClasses, cleanLogits.size(1) - 1);
  const int64_t restarts = std::max<int64_t>(1, config.restarts);
  for (int64_t rank = 1; rank <= count; ++rank) {
    torch::Tensor target = ranked.select(1, rank).contiguous();
    for (int64_t restart = 0; restart < restarts; ++restart) {
      torch::Tensor start = images;
      if (restart > 0) {
        // Later restarts: a random point at half the budget (Linf), drawn for the whole batch.
        torch::NoGradGuard noGrad;
        torch::Tensor noise = torch::rand(images.sizes(), local, images.options()) * 2 - 1;
        torch::Tensor scale = noise.abs().flatten(1).amax(1).clamp_min(1e-12);
        start = (images + 0.5 * config.eps * noise / Column(scale)).clamp(0.0, 1.0);
      }
      torch::Tensor active = success.logical_not().nonzero().squeeze(1);
      if (active.numel() == 0) return;
      torch::Tensor activeImages = images.index_select(0, active);
      torch::Tensor activeLabels = labels.index_select(0, active);
      FabRun run = OneRun(model, activeImages, activeLabels, target.index_select(0, active),
                          start.index_select(0, active), config.steps);
      torch::NoGradGuard noGrad;
      // Broken: a misclassified point within eps (checked again on the point itself, as AutoAttack does).
      torch::Tensor found = run.distance.le(config.eps)
                                .logical_and(model.forward(run.adversarial).argmax(1).ne(activeLabels));
      torch::Tensor chosen = found.nonzero().squeeze(1);
      if (chosen.numel() == 0) continue;
      torch::Tensor broken = active.index_select(0, chosen);
      adversarial.index_copy_(0, broken, run.adversarial.index_select(0, chosen));
      success.index_fill_(0, broken, true);
    }
  }
}

AttackResult RunFab(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
                    const AttackConfig& config, at::Generator& generator) {
  FrozenParameters frozen(model);
  at::Generator local = BatchGenerator(generator, images.device());
  torch::Tensor cleanLogits = DecisionLogits(model, images);
  torch::Tensor success = cleanLogits.argmax(1).ne(labels);
  torch::Tensor adversarial = images.clone();
  FabInPlace(model, images, labels, cleanLogits, config, local, adversarial, success);
  return {adversarial, DecisionLogits(model, adversarial).argmax(1)};
}

}  // namespace classwise
