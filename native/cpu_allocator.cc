#include "cpu_allocator.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>
#include <torch/version.h>

#include <mutex>
#include <unordered_map>
#include <vector>

namespace classwise {

// LibTorch 2.3 changed the Allocator interface: allocate() lost its const and copy_data() became required.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
#define CLASSWISE_ALLOCATOR_2_3 1
#define CLASSWISE_ALLOCATE_CONST
#else
#define CLASSWISE_ALLOCATE_CONST const
#endif

namespace {

// Free blocks kept per exact size, up to this many bytes in all; beyond it blocks go back to the system.
constexpr size_t kCacheLimitBytes = size_t(1) << 30;
// Small tensors are cheap for malloc and too many to track: only cache blocks at least this big.
constexpr size_t kMinimumCachedBytes = size_t(64) << 10;

class CachingCpuAllocator final : public c10::Allocator {
 public:
  // The context is the data pointer itself: LibTorch's raw_allocate() requires it.
  c10::DataPtr allocate(size_t bytes) CLASSWISE_ALLOCATE_CONST override {
    void* data = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (bytes >= kMinimumCachedBytes) data = TakeCachedLocked(bytes);
    }
    if (!data) data = c10::alloc_cpu(bytes);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      sizes_[data] = bytes;
    }
    return {data, data, &Release, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &Release; }

#ifdef CLASSWISE_ALLOCATOR_2_3
  void copy_data(void* dest, const void* src, std::size_t count) const override {
    default_copy_data(dest, src, count);
  }
#endif

 private:
  static CachingCpuAllocator& Instance();

  void* TakeCachedLocked(size_t bytes) const {
    auto found = free_.find(bytes);
    if (found == free_.end() || found->second.empty()) return nullptr;
    void* data = found->second.back();
    found->second.pop_back();
    cachedBytes_ -= bytes;
    return data;
  }

  static void Release(void* data) {
    if (!data) return;
    CachingCpuAllocator& self = Instance();
    {
      std::lock_guard<std::mutex> lock(self.mutex_);
      auto found = self.sizes_.find(data);
      const size_t bytes = found == self.sizes_.end() ? 0 : found->second;
      if (found != self.sizes_.end()) self.sizes_.erase(found);
      if (bytes >= kMinimumCachedBytes && self.cachedBytes_ + bytes <= kCacheLimitBytes) {
        self.free_[bytes].push_back(data);
        self.cachedBytes_ += bytes;
        return;
      }
    }
    c10::free_cpu(data);
  }

  mutable std::mutex mutex_;
  mutable std::unordered_map<void*, size_t> sizes_;
  mutable std::unordered_map<size_t, std::vector<void*>> free_;
  mutable size_t cachedBytes_ = 0;

  friend bool classwise::InstallCpuCachingAllocator();
};

CachingCpuAllocator& CachingCpuAllocator::Instance() {
  // Never destroyed: tensors freed during process exit still find it.
  static auto* instance = new CachingCpuAllocator();
  return *instance;
}

}  // namespace

bool InstallCpuCachingAllocator() {
  static std::once_flag once;
  std::call_once(once, [] { c10::SetCPUAllocator(&CachingCpuAllocator::Instance(), /*priority=*/1); });
  return true;
}

}  // namespace classwise
