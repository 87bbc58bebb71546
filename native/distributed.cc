#include "distributed.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/version.h>
#ifdef CLASSWISE_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <algorithm>
#include <future>
#include <map>
#include <thread>

#include "errors.h"

namespace classwise {
namespace {

// In LibTorch 2.x a backend (Gloo, NCCL) is a c10d::Backend; in 1.13 it was itself a c10d::ProcessGroup.
#if TORCH_VERSION_MAJOR >= 2
using CollectiveEngine = c10d::Backend;
#else
using CollectiveEngine = c10d::ProcessGroup;
#endif
using WorkHandle = decltype(std::declval<CollectiveEngine&>().barrier());

// Gradients are reduced in flat buffers of at most this size (DistributedDataParallel's default bucket_cap_mb).
constexpr int64_t kBucketBytes = 25 * 1024 * 1024;
// After a failed collective, how long a rank waits for the others to report the failure too; the ranks that
// do not are named as the ones that died or hung.
constexpr auto kFailureGrace = std::chrono::seconds(5);
// How long past that grace a store that does not answer at all is waited for.
constexpr auto kStoreAnswerSlack = std::chrono::seconds(2);
// How often the store is asked whether the other ranks reported.
constexpr auto kFailurePoll = std::chrono::milliseconds(50);
// This run's keys in the store, apart from those c10d's process group writes itself.
constexpr const char* kKeyPrefix = "classwise/";

std::string ShortMessage(const std::exception& error) {
  if (auto* torchError = dynamic_cast<const c10::Error*>(&error)) return torchError->what_without_backtrace();
  return error.what();
}

std::string Seconds(std::chrono::milliseconds duration) { return FormatNumber(duration.count() / 1000.0); }

bool IsLoopback(const std::string& address) {
  return address == "localhost" || address.rfind("127.", 0) == 0 || address == "::1";
}

std::string Join(const std::vector<int64_t>& ranks) {
  std::string text;
  for (size_t i = 0; i < ranks.size(); ++i) text += (i ? ", " : "") + std::to_string(ranks[i]);
  return text;
}

// Reads the other ranks' WORLD_SIZE from their join keys, rank 0's first (it hosts the store, so it is always
// there), and names the first that differs from this rank's. A rank whose key does not come within the timeout
// fails the rendezvous.
void CheckWorldSizes(c10d::Store& store, const GroupConfig& config) {
  for (int64_t q = 0; q < config.worldSize; ++q) {
    if (q == config.rank) continue;
    const std::string key = std::string(kKeyPrefix) + "joined/" + std::to_string(q);
    // A rank that never sets its key makes this get time out: the caller names the ranks that never joined.
    const std::vector<uint8_t> value = store.get(key);
    const std::string theirs(value.begin(), value.end());
    if (theirs != std::to_string(config.worldSize)) {
      const int64_t high = std::max(q, config.rank);
      const int64_t low = std::min(q, config.rank);
      const std::string highSize = high == config.rank ? std::to_string(config.worldSize) : theirs;
      const std::string lowSize = low == config.rank ? std::to_string(config.worldSize) : theirs;
      throw ClasswiseError(kDistributed, "rank " + std::to_string(high) + " has WORLD_SIZE " + highSize + ", rank " +
                                            std::to_string(low) + " has " + lowSize +
                                            ": start every rank with the same WORLD_SIZE (classwise-at launch sets "
                                            "it; do not set WORLD_SIZE in one rank's environment)");
    }
  }
}

}  // namespace

struct DistributedGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<CollectiveEngine> engine;
};

bool BackendAvailable(const std::string& backend) {
  if (backend == "gloo") return true;
#ifdef CLASSWISE_WITH_NCCL
  if (backend == "nccl") return true;
#endif
  return false;
}

DistributedGroup::DistributedGroup(GroupConfig config, std::unique_ptr<Impl> impl)
    : config_(std::move(config)), impl_(std::move(impl)) {}

DistributedGroup::~DistributedGroup() = default;

std::shared_ptr<DistributedGroup> DistributedGroup::Connect(const GroupConfig& config) {
  const std::string where = config.masterAddr + ":" + std::to_string(config.masterPort);
  const std::string who = "rank " + std::to_string(config.rank) + " of " + std::to_string(config.worldSize);
  if (!BackendAvailable(config.backend)) {
    throw ClasswiseError(kDistributed, "backend \"" + config.backend + "\" is not available in this build (" +
                                           (config.backend == "nccl" ? "NCCL needs the CUDA build: npm run build:cuda"
                                                                     : "accepted: gloo, nccl") +
                                           "); use --backend gloo");
  }
  auto impl = std::make_unique<Impl>();
  c10d::TCPStoreOptions storeOptions;
  storeOptions.port = static_cast<uint16_t>(config.masterPort);
  storeOptions.isServer = !config.useAgentStore && config.rank == 0;
  storeOptions.numWorkers = static_cast<size_t>(config.worldSize);
  // Rank 0 does not wait in the store: the process group's rendezvous below waits, bounded by the timeout.
  storeOptions.waitWorkers = false;
  storeOptions.timeout = config.timeout;
  c10::intrusive_ptr<c10d::Store> tcpStore;
  try {
    tcpStore = c10::make_intrusive<c10d::TCPStore>(config.masterAddr, storeOptions);
  } catch (const std::exception& error) {
    const std::string message = ShortMessage(error);
    if (message.find("EADDRINUSE") != std::string::npos || message.find("ddress already in use") != std::string::npos) {
      throw ClasswiseError(kPortInUse, "MASTER_PORT " + std::to_string(config.masterPort) + " on " + config.masterAddr +
                                           " is already in use (another run, or a leftover process); choose a free "
                                           "port with --master-port or MASTER_PORT");
    }
    throw ClasswiseError(kDistributed, who + " could not " +
                                           (storeOptions.isServer ? "open the store at " + where
                                                                  : "reach the store at " + where + " within --timeout " +
                                                                        Seconds(config.timeout) + " s (" +
                                                                        (config.useAgentStore ? "the torchrun agent"
                                                                                              : "rank 0") +
                                                                        " hosts it: is it running, and is " + where +
                                                                        " reachable from here?)") +
                                           ": " + message);
  }
  impl->store = tcpStore;
  if (config.useAgentStore) {
    impl->store = c10::make_intrusive<c10d::PrefixStore>("/worker/attempt_" + std::to_string(config.restartCount), tcpStore);
  }
  impl->store->setTimeout(config.timeout);
  // Each rank's key holds its WORLD_SIZE: a rank started with another one is named before the process group
  // waits for ranks that will never come.
  const std::string ownSize = std::to_string(config.worldSize);
  impl->store->set(std::string(kKeyPrefix) + "joined/" + std::to_string(config.rank),
                   std::vector<uint8_t>(ownSize.begin(), ownSize.end()));
  auto groupStore = c10::make_intrusive<c10d::PrefixStore>("classwise-group", impl->store);
  try {
    CheckWorldSizes(*impl->store, config);
    if (config.backend == "gloo") {
      auto options = c10d::ProcessGroupGloo::Options::create(config.timeout);
      // Ranks on one machine (a loopback master) talk over loopback; otherwise as torchrun's workers do:
      // GLOO_SOCKET_IFNAME's interface, else the address this machine's hostname resolves to.
      const char* interface = std::getenv("GLOO_SOCKET_IFNAME");
      if (interface && *interface) {
        options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(interface));
      } else if (IsLoopback(config.masterAddr)) {
        options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      } else {
        options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      }
      options->threads = 1;
      impl->engine = c10::make_intrusive<c10d::ProcessGroupGloo>(groupStore, static_cast<int>(config.rank),
                                                                 static_cast<int>(config.worldSize), options);
    }
#ifdef CLASSWISE_WITH_NCCL
    else {
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = config.timeout;
      impl->engine = c10::make_intrusive<c10d::ProcessGroupNCCL>(groupStore, static_cast<int>(config.rank),
                                                                 static_cast<int>(config.worldSize), options);
    }
#endif
  } catch (const ClasswiseError&) {
    throw;
  } catch (const std::exception& error) {
    std::vector<int64_t> absent;
    try {
      for (int64_t q = 0; q < config.worldSize; ++q) {
        if (!impl->store->check({std::string(kKeyPrefix) + "joined/" + std::to_string(q)})) absent.push_back(q);
      }
    } catch (const std::exception&) {
    }
    throw ClasswiseError(kRankFailed, who + ": the process group at " + where + " did not form within --timeout " +
                                          Seconds(config.timeout) + " s" +
                                          (absent.empty() ? std::string()
                                                          : "; never joined: rank" + std::string(absent.size() > 1 ? "s " : " ") +
                                                                Join(absent)) +
                                          " (start every rank with the same MASTER_ADDR, MASTER_PORT and WORLD_SIZE): " +
                                          ShortMessage(error));
  }
  return std::shared_ptr<DistributedGroup>(new DistributedGroup(config, std::move(impl)));
}

std::string DistributedGroup::DescribeMissingRanks() {
  const std::string prefix = std::string(kKeyPrefix) + "failed/" + std::to_string(failures_) + "/";
  const auto grace = std::min<std::chrono::milliseconds>(kFailureGrace, config_.timeout);
  const std::string storeGone =
      config_.useAgentStore ? "the torchrun agent's store is unreachable"
                            : "rank 0 stopped answering (died or hung; it hosts the store at " + config_.masterAddr + ":" +
                                  std::to_string(config_.masterPort) + ")";
  // A stopped (SIGSTOP) store host still accepts the connection but never answers, and TCPStore's check has no
  // timeout: the store is asked on a thread of its own, which is left blocked if no answer comes in time (the
  // run stops; the CLI then exits at once).
  auto poll = std::make_shared<std::packaged_task<std::string()>>(
      [store = impl_->store, prefix, grace, rank = config_.rank, worldSize = config_.worldSize]() -> std::string {
        store->set(prefix + std::to_string(rank), std::vector<uint8_t>{1});
        const auto deadline = std::chrono::steady_clock::now() + grace;
        std::vector<int64_t> missing;
        while (true) {
          missing.clear();
          for (int64_t q = 0; q < worldSize; ++q) {
            if (q != rank && !store->check({prefix + std::to_string(q)})) missing.push_back(q);
          }
          if (missing.empty() || std::chrono::steady_clock::now() >= deadline) break;
          std::this_thread::sleep_for(kFailurePoll);
        }
        if (missing.empty()) return "every other rank reported the failure too";
        return "rank" + std::string(missing.size() > 1 ? "s " : " ") + Join(missing) + " stopped answering (died or hung)";
      });
  std::future<std::string> answer = poll->get_future();
  std::thread([poll] { (*poll)(); }).detach();
  if (answer.wait_for(grace + kStoreAnswerSlack) != std::future_status::ready) return storeGone;
  try {
    return answer.get();
  } catch (const std::exception&) {
    // The store lives in rank 0's process (or torchrun's agent): unreachable, it is rank 0 that is gone.
    return storeGone;
  }
}

template <typename Body>
void DistributedGroup::Collective(const std::string& what, Body&& body) {
  try {
    body();
  } catch (const std::exception& error) {
    const std::string cause = ShortMessage(error);
    const std::string missing = DescribeMissingRanks();
    ++failures_;
    throw ClasswiseError(kRankFailed, "rank " + std::to_string(config_.rank) + " of " +
                                          std::to_string(config_.worldSize) + ": " + what + " failed: " + missing +
                                          " within --timeout " + Seconds(config_.timeout) +
                                          " s; the run stops (resume it with --resume and the same number of ranks) [" +
                                          cause + "]");
  }
}

void DistributedGroup::Buckets(const std::vector<torch::Tensor>& tensors, bool allReduce, const std::string& what) {
  torch::NoGradGuard noGrad;
  // Buckets never mix dtypes or devices: a flat buffer has one of each.
  std::map<std::pair<int, std::string>, std::vector<std::vector<torch::Tensor>>> buckets;
  std::map<std::pair<int, std::string>, int64_t> filled;
  for (const torch::Tensor& tensor : tensors) {
    if (!tensor.defined() || tensor.numel() == 0) continue;
    const auto key = std::make_pair(static_cast<int>(tensor.scalar_type()), tensor.device().str());
    auto& list = buckets[key];
    const int64_t bytes = tensor.numel() * static_cast<int64_t>(tensor.element_size());
    if (list.empty() || filled[key] + bytes > kBucketBytes) {
      list.emplace_back();
      filled[key] = 0;
    }
    list.back().push_back(tensor);
    filled[key] += bytes;
  }
  std::vector<std::pair<torch::Tensor, std::vector<torch::Tensor>>> flats;
  for (auto& entry : buckets) {
    for (auto& members : entry.second) {
      std::vector<torch::Tensor> views;
      for (const torch::Tensor& t : members) views.push_back(t.reshape({-1}));
      flats.emplace_back(torch::cat(views), members);
    }
  }
  Collective(what, [&] {
    std::vector<WorkHandle> started;
    for (auto& flat : flats) {
      std::vector<at::Tensor> buffer{flat.first};
      if (allReduce) {
        c10d::AllreduceOptions options;
        options.reduceOp = c10d::ReduceOp::SUM;
        started.push_back(impl_->engine->allreduce(buffer, options));
      } else {
        c10d::BroadcastOptions options;
        options.rootRank = 0;
        started.push_back(impl_->engine->broadcast(buffer, options));
      }
    }
    for (auto& work : started) work->wait(config_.timeout);
  });
  for (auto& flat : flats) {
    int64_t offset = 0;
    for (torch::Tensor& t : flat.second) {
      t.copy_(flat.first.slice(0, offset, offset + t.numel()).view_as(t));
      offset += t.numel();
    }
  }
}

void DistributedGroup::AllReduceSum(const std::vector<torch::Tensor>& tensors, const std::string& what) {
  Buckets(tensors, /*allReduce=*/true, what);
}

void DistributedGroup::BroadcastFromRankZero(const std::vector<torch::Tensor>& tensors, const std::string& what) {
  Buckets(tensors, /*allReduce=*/false, what);
}

void DistributedGroup::Barrier(const std::string& what) {
  Collective(what, [&] {
    c10d::BarrierOptions options;
    options.timeout = config_.timeout;
    impl_->engine->barrier(options)->wait(config_.timeout);
  });
}

}  // namespace classwise
