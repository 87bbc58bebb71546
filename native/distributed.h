// Data parallelism on PyTorch's own distributed engine (c10d): a TCPStore for rendezvous and a Gloo (CPU) or
// NCCL (CUDA) process group for the collectives the training step and the evaluation call natively.
// There is no C++ DistributedDataParallel (PyTorch issue 48959): the bucketed gradient all-reduce is ours.
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace classwise {

struct GroupConfig {
  int64_t rank = 0;
  int64_t worldSize = 1;
  std::string masterAddr = "127.0.0.1";
  int64_t masterPort = 29500;
  std::chrono::milliseconds timeout{std::chrono::minutes(30)};
  std::string backend = "gloo";  // "gloo" | "nccl"
  // torchrun with TORCHELASTIC_USE_AGENT_STORE=True: the agent hosts the store; every rank is a client and keys
  // live under /worker/attempt_<restartCount>, as torchrun's own workers do.
  bool useAgentStore = false;
  int64_t restartCount = 0;
};

// Whether this LibTorch was built with the backend, and this addon compiled against it.
bool BackendAvailable(const std::string& backend);

class DistributedGroup {
 public:
  // Blocks until every rank has joined or the timeout passed (ClasswiseError naming what was waited for).
  static std::shared_ptr<DistributedGroup> Connect(const GroupConfig& config);
  ~DistributedGroup();

  int64_t rank() const { return config_.rank; }
  int64_t worldSize() const { return config_.worldSize; }
  const GroupConfig& config() const { return config_; }

  // Sums the tensors over the ranks, in place, in buckets (one flat buffer per bucket and dtype); each bucket's
  // reduction is started before the first is waited on. `what` names the operation in errors.
  void AllReduceSum(const std::vector<torch::Tensor>& tensors, const std::string& what);
  // Copies rank 0's values into every rank's tensors, in place.
  void BroadcastFromRankZero(const std::vector<torch::Tensor>& tensors, const std::string& what);
  void Barrier(const std::string& what);

 private:
  struct Impl;
  explicit DistributedGroup(GroupConfig config, std::unique_ptr<Impl> impl);
  // Runs one collective; a failure becomes ERR_RANK_FAILED naming the ranks that stopped answering.
  template <typename Body>
  void Collective(const std::string& what, Body&& body);
  std::string DescribeMissingRanks();
  void Buckets(const std::vector<torch::Tensor>& tensors, bool allReduce, const std::string& what);

  GroupConfig config_;
  std::unique_ptr<Impl> impl_;
  int64_t failures_ = 0;
};

}  // namespace classwise
