// A caching allocator for LibTorch's CPU tensors, so attack steps reuse buffers instead of faulting pages in.
#pragma once

namespace classwise {

// Installs the cache as LibTorch's CPU allocator (once; later calls do nothing). Returns false where this
// LibTorch's allocator interface is not the one the cache implements (then the default allocator stays).
bool InstallCpuCachingAllocator();

}  // namespace classwise
