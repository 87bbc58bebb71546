// A caching allocator for LibTorch's CPU tensors, so attack steps reuse buffers instead of faulting pages in.
#pragma once

namespace classwise {

// Installs the cache as LibTorch's CPU allocator (once; later calls do nothing); true once installed.
bool InstallCpuCachingAllocator();

}  // namespace classwise
