#include "ensemble.h"

#include "apgd.h"
#include "fab.h"
#include "model_state.h"
#include "square.h"

namespace classwise {

AttackResult RunEnsemble(Classifier& model, const torch::Tensor& images, const torch::Tensor& labels,
                         const AttackConfig& config, at::Generator& generator) {
  FrozenParameters frozen(model);
  // One seed per batch, and every stage starts its own generator from it: a stage draws exactly the noise
  // it draws when run alone with the same seed, so the cascade is never weaker than any of its stages.
  const uint64_t batchSeed = BatchSeed(generator);
  auto stageGenerator = [&]() { return MakeGenerator(images.device(), batchSeed); };
  torch::Tensor cleanLogits = DecisionLogits(model, images);
  torch::Tensor success = cleanLogits.argmax(1).ne(labels);
  torch::Tensor adversarial = images.clone();
  torch::Tensor brokenBy = torch::where(success, torch::full_like(labels, kStageClean),
                                        torch::full_like(labels, kStageRobust));
  // Called after each stage that ran: numbered 1, 2, 3, 4 for APGD-CE, APGD-T, FAB-T, Square. Below fp32 the
  // stage's own successes are judged again in fp32, so the next stage attacks the points fp32 finds robust.
  const bool rejudged = DecisionsRejudged(images.device());
  auto record = [&](int64_t number) {
    if (rejudged) success = DecisionLogits(model, adversarial).argmax(1).ne(labels);
    torch::NoGradGuard noGrad;
    brokenBy = torch::where(success.logical_and(brokenBy.eq(kStageRobust)), torch::full_like(labels, number), brokenBy);
  };
  AttackConfig stage = config;
  stage.targeted = false;
  stage.restarts = 1;
  if (config.stages.apgdCe) {
    stage.algorithm = AttackAlgorithm::Apgd;
    stage.loss = AttackLoss::Ce;
    stage.targetClasses = 0;
    at::Generator local = stageGenerator();
    ApgdInPlace(model, images, labels, labels, cleanLogits, stage, local, adversarial, success);
    record(1);
  }
  if (config.stages.apgdTargeted) {
    stage.algorithm = AttackAlgorithm::Apgd;
    stage.loss = AttackLoss::Dlr;
    stage.targetClasses = config.targetClasses;
    at::Generator local = stageGenerator();
    ApgdInPlace(model, images, labels, labels, cleanLogits, stage, local, adversarial, success);
    record(2);
  }
  if (config.stages.fabTargeted) {
    stage.algorithm = AttackAlgorithm::Fab;
    stage.targetClasses = config.targetClasses;
    at::Generator local = stageGenerator();
    FabInPlace(model, images, labels, cleanLogits, stage, local, adversarial, success);
    record(3);
  }
  if (config.stages.square) {
    stage.algorithm = AttackAlgorithm::Square;
    stage.targetClasses = 0;
    at::Generator local = stageGenerator();
    SquareInPlace(model, images, labels, labels, stage, local, adversarial, success);
    record(4);
  }
  return {adversarial, DecisionLogits(model, adversarial).argmax(1), brokenBy};
}

}  // namespace classwise
