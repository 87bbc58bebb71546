#include "jpeg_decoder.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <numeric>
#include <vector>

#ifdef CLASSWISE_WITH_TURBOJPEG
#include <csetjmp>
#include <cstdio>  // jpeglib.h needs FILE

#include <jpeglib.h>
#include <turbojpeg.h>
#endif

namespace classwise {

namespace {

// Evaluation resizes the shorter side to size / 0.875 (256 for 224), then crops the center (as src/data/imagenet.ts).
constexpr double kCenterCropFraction = 0.875;
// Random-resized crop as torchvision: area in [0.08, 1] of the image, aspect ratio in [3/4, 4/3], 10 attempts.
constexpr double kCropScaleMin = 0.08;
constexpr double kCropScaleMax = 1.0;
constexpr double kCropRatioMin = 3.0 / 4.0;
constexpr double kCropRatioMax = 4.0 / 3.0;
constexpr int kCropAttempts = 10;
// Lanczos-3, sharp's default resize kernel: three lobes each side, widened by the reduction factor (antialiasing).
constexpr double kKernelRadius = 3.0;
// The reduction left after DCT-domain scaling is at least this factor (libvips' "gap").
constexpr double kShrinkGap = 2.0;
constexpr double kPi = 3.14159265358979323846;
// Output rows the resampler's two passes take at a time: a band's transposed rows (up to a few hundred source columns
// of 64 rows of 3 floats) stay in the L2 cache between the passes.
constexpr int kResampleBand = 64;
// The decoder's ceiling, sharp's default limitInputPixels (0x3FFF squared): a header may declare 65,535 x 65,535
// (12.9 GB of RGB); such a file goes to sharp, which refuses it by the same limit.
constexpr int64_t kMaxInputPixels = 268402689;

// Mulberry32, bit for bit as seededRandom in src/data/random.ts.
class Mulberry32 {
 public:
  explicit Mulberry32(uint32_t seed) : state_(seed) {}
  double Next() {
    state_ += 0x6d2b79f5u;
    uint32_t mixed = (state_ ^ (state_ >> 15)) * (1u | state_);
    mixed = (mixed + (mixed ^ (mixed >> 7)) * (61u | mixed)) ^ mixed;
    return static_cast<double>(mixed ^ (mixed >> 14)) / 4294967296.0;
  }

 private:
  uint32_t state_;
};

// Math.round for the non-negative values used here.
double RoundHalfUp(double value) { return std::floor(value + 0.5); }

double Lanczos3(double x) {
  x = std::fabs(x);
  if (x < 1e-8) return 1.0;
  if (x >= kKernelRadius) return 0.0;
  const double px = kPi * x;
  // sin(px) from sin(px / 3) by the triple-angle formula, sin 3a = 3 sin a - 4 sin^3 a: one libm call, not two.
  static_assert(kKernelRadius == 3.0, "the triple-angle formula is for Lanczos-3");
  const double third = std::sin(px / kKernelRadius);
  return kKernelRadius * (third * (3.0 - 4.0 * third * third)) * third / (px * px);
}

// Taps of a 1-D resample: output i reads source[first[i] .. first[i] + count[i]) with weights[i * stride ...].
struct ResampleTaps {
  std::vector<int> first;
  std::vector<int> count;
  std::vector<float> weights;
  int stride = 0;
};

// Output pixel i (of `outputs`) is centred at start + (i + 0.5) * span / outputs in source coordinates; taps stay
// inside [lowest, highest) (the crop for training, which sharp extracts before resizing; the image for evaluation).
ResampleTaps MakeTaps(double start, double span, int outputs, int lowest, int highest) {
  ResampleTaps taps;
  const double scale = span / outputs;
  const double widen = std::max(1.0, scale);
  const double support = kKernelRadius * widen;
  taps.stride = static_cast<int>(std::ceil(support)) * 2 + 2;
  taps.first.resize(outputs);
  taps.count.resize(outputs);
  taps.weights.assign(static_cast<size_t>(outputs) * taps.stride, 0.0f);
  std::vector<double> raw(taps.stride);
  for (int i = 0; i < outputs; ++i) {
    const double centre = start + (i + 0.5) * scale;
    int from = std::max(lowest, static_cast<int>(std::floor(centre - support)));
    int to = std::min(highest, static_cast<int>(std::ceil(centre + support)) + 1);
    if (to - from > taps.stride) to = from + taps.stride;
    if (to <= from) {
      from = std::min(std::max(lowest, static_cast<int>(centre)), highest - 1);
      to = from + 1;
    }
    double total = 0;
    for (int j = from; j < to; ++j) {
      raw[j - from] = Lanczos3((j + 0.5 - centre) / widen);
      total += raw[j - from];
    }
    if (std::fabs(total) < 1e-12) {
      raw[0] = 1.0;
      total = 1.0;
      to = from + 1;
    }
    taps.first[i] = from;
    taps.count[i] = to - from;
    for (int j = 0; j < to - from; ++j) taps.weights[static_cast<size_t>(i) * taps.stride + j] = static_cast<float>(raw[j] / total);
  }
  return taps;
}

// Rounds half to even (std::nearbyint in the default rounding mode), then clamps to a byte. Adding and removing
// 1.5 * 2^23 rounds so any float of magnitude below 2^22 (a weighted sum of bytes is) in plain arithmetic that
// vectorizes (the build has no -ffast-math to fold it), where nearbyint is a libm call per value.
inline uint8_t ClampToByte(float value) {
  constexpr float kRoundingShift = 12582912.0f;
  const int rounded = static_cast<int>((value + kRoundingShift) - kRoundingShift);
  return static_cast<uint8_t>(std::min(std::max(rounded, 0), 255));
}

// The resampler's loops also compiled for AVX2 (8 floats a step instead of SSE2's 4), chosen at load time on the CPU
// that runs them. Without FMA (not implied by avx2) the arithmetic is the same, so the bytes are too.
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__)
#define CLASSWISE_AVX2_CLONE __attribute__((target_clones("avx2", "default")))
#else
#define CLASSWISE_AVX2_CLONE
#endif

// How the crop of an image `per` times the source's size becomes the output: the integer box shrink and the Lanczos
// taps, in the whole image's coordinates (so that a window of the image gives the same bytes as the whole).
struct CropPlan {
  int shrinkX = 1, shrinkY = 1;
  ResampleTaps across, down;  // over the shrunk image's columns and rows
  int firstColumn = 0, lastColumn = 0, firstRow = 0, lastRow = 0;  // what the taps read: [first, last)
  bool flip = false;
};

// A window of an interleaved RGB image: its pixels [left, left + width) x [top, top + height), rows width * 3 apart.
struct RgbWindow {
  const uint8_t* pixels = nullptr;
  int left = 0, top = 0, width = 0, height = 0;
};

// Plans the crop `box` (in the source image's pixels) of a width x height image `per` times the source's size: an
// integer box shrink down to twice the output, then the Lanczos resample into out[3][size][size].
CropPlan PlanCrop(int width, int height, double per, const SourceBox& box, bool flip, const ImageTransform& transform) {
  CropPlan plan;
  plan.flip = flip;
  plan.shrinkX = std::max(1, static_cast<int>(std::floor(box.width * per / transform.outputSize / kShrinkGap)));
  plan.shrinkY = std::max(1, static_cast<int>(std::floor(box.height * per / transform.outputSize / kShrinkGap)));
  const double perX = per / plan.shrinkX, perY = per / plan.shrinkY;
  const int sampledWidth = (width + plan.shrinkX - 1) / plan.shrinkX;
  const int sampledHeight = (height + plan.shrinkY - 1) / plan.shrinkY;
  const SourceBox scaled{box.left * perX, box.top * perY, box.width * perX, box.height * perY};
  int lowX = 0, highX = sampledWidth, lowY = 0, highY = sampledHeight;
  if (transform.augment) {
    // sharp extracts the crop before resizing: the kernel never reads outside it.
    lowX = std::max(0, static_cast<int>(std::floor(scaled.left + 1e-6)));
    highX = std::min(sampledWidth, std::max(lowX + 1, static_cast<int>(std::ceil(scaled.left + scaled.width - 1e-6))));
    lowY = std::max(0, static_cast<int>(std::floor(scaled.top + 1e-6)));
    highY = std::min(sampledHeight, std::max(lowY + 1, static_cast<int>(std::ceil(scaled.top + scaled.height - 1e-6))));
  }
  plan.across = MakeTaps(scaled.left, scaled.width, transform.outputSize, lowX, highX);
  plan.down = MakeTaps(scaled.top, scaled.height, transform.outputSize, lowY, highY);
  auto reach = [](const ResampleTaps& taps, int* first, int* last) {
    *first = taps.first[0];
    *last = 0;
    for (size_t i = 0; i < taps.first.size(); ++i) {
      *first = std::min(*first, taps.first[i]);
      *last = std::max(*last, taps.first[i] + taps.count[i]);
    }
  };
  reach(plan.across, &plan.firstColumn, &plan.lastColumn);
  reach(plan.down, &plan.firstRow, &plan.lastRow);
  return plan;
}

// The pixels of the width x height image (before the shrink) that the plan reads: [left, right) x [top, bottom).
void PlanReach(const CropPlan& plan, int width, int height, int* left, int* top, int* right, int* bottom) {
  *left = plan.firstColumn * plan.shrinkX;
  *right = std::min(width, plan.lastColumn * plan.shrinkX);
  *top = plan.firstRow * plan.shrinkY;
  *bottom = std::min(height, plan.lastRow * plan.shrinkY);
}

// out[v] = the sum over k = 0, 1, ... of weights[k] * rows[k][v], for v < length. Sixteen values at a time stay in
// registers across the taps (vectorized by the compiler) instead of going to memory and back once a tap; each value
// is the same sum in the same order as a plain loop's.
inline void WeightedSum(const float* const* rows, const float* weights, int taps, size_t length, float* out) {
  constexpr size_t kBlock = 16;
  size_t v = 0;
  for (; v + kBlock <= length; v += kBlock) {
    float sum[kBlock] = {};
    for (int k = 0; k < taps; ++k) {
      const float* row = rows[k] + v;
      const float w = weights[k];
      for (size_t i = 0; i < kBlock; ++i) sum[i] += w * row[i];
    }
    for (size_t i = 0; i < kBlock; ++i) out[v + i] = sum[i];
  }
  for (; v < length; ++v) {
    float sum = 0.0f;
    for (int k = 0; k < taps; ++k) sum += weights[k] * rows[k][v];
    out[v] = sum;
  }
}

// Resamples a window of the (shrunk) image into out[3][size][size], mirrored when `flip`. Both passes run over
// contiguous float rows so that the compiler vectorizes them: the vertical pass first, over the columns the
// horizontal taps reach, written transposed (one row per source column); the horizontal pass then sums those rows.
// They take the output rows a band at a time, so that the band's transposed rows are still in the cache for the
// second pass (each value is the same sum in the same order as without bands).
CLASSWISE_AVX2_CLONE
void ResampleToPlanar(const RgbWindow& window, const CropPlan& plan, int size, uint8_t* out) {
  const ResampleTaps& across = plan.across;
  const ResampleTaps& down = plan.down;
  const int firstColumn = plan.firstColumn;
  const int columns = plan.lastColumn - firstColumn;
  const int band = std::min(size, kResampleBand);
  const size_t line = static_cast<size_t>(band) * 3;  // one transposed row: every band row's three channels
  std::unique_ptr<float[]> transposed(new float[static_cast<size_t>(columns) * line]);
  std::vector<float> sums(static_cast<size_t>(columns) * 3);
  std::vector<float> result(line);
  std::vector<uint8_t> bytes(line);
  std::vector<const float*> transposedRows(across.stride);
  // The source rows as floats, each converted once: an output row's taps are at most `stride` consecutive rows, so
  // a ring of that many slots holds them all.
  const size_t rowLength = static_cast<size_t>(columns) * 3;
  const size_t slots = static_cast<size_t>(down.stride);
  std::unique_ptr<float[]> floatRows(new float[slots * rowLength]);
  std::vector<int> slotRow(slots, -1);
  std::vector<const float*> sourceRows(slots);
  const size_t plane = static_cast<size_t>(size) * size;
  for (int bandTop = 0; bandTop < size; bandTop += band) {
    const int rows = std::min(band, size - bandTop);
    for (int y = bandTop; y < bandTop + rows; ++y) {
      for (int k = 0; k < down.count[y]; ++k) {
        const int row = down.first[y] + k;
        const size_t slot = static_cast<size_t>(row) % slots;
        float* converted = floatRows.get() + slot * rowLength;
        if (slotRow[slot] != row) {
          const uint8_t* source =
              window.pixels + (static_cast<size_t>(row - window.top) * window.width + (firstColumn - window.left)) * 3;
          for (size_t v = 0; v < rowLength; ++v) converted[v] = static_cast<float>(source[v]);
          slotRow[slot] = row;
        }
        sourceRows[k] = converted;
      }
      WeightedSum(sourceRows.data(), down.weights.data() + static_cast<size_t>(y) * down.stride, down.count[y], rowLength, sums.data());
      for (int column = 0; column < columns; ++column) {
        float* target = transposed.get() + static_cast<size_t>(column) * line + static_cast<size_t>(y - bandTop) * 3;
        target[0] = sums[3 * column];
        target[1] = sums[3 * column + 1];
        target[2] = sums[3 * column + 2];
      }
    }
    const size_t length = static_cast<size_t>(rows) * 3;
    for (int x = 0; x < size; ++x) {
      for (int k = 0; k < across.count[x]; ++k) {
        transposedRows[k] = transposed.get() + static_cast<size_t>(across.first[x] + k - firstColumn) * line;
      }
      WeightedSum(transposedRows.data(), across.weights.data() + static_cast<size_t>(x) * across.stride, across.count[x], length, result.data());
      for (size_t v = 0; v < length; ++v) bytes[v] = ClampToByte(result[v]);
      uint8_t* target = out + static_cast<size_t>(bandTop) * size + (plan.flip ? size - 1 - x : x);
      for (int y = 0; y < rows; ++y) {
        for (int c = 0; c < 3; ++c) target[c * plane + static_cast<size_t>(y) * size] = bytes[3 * y + c];
      }
    }
  }
}

// Block averages of `factorX` x `factorY` pixels from the top-left corner (libvips' shrink, which sharp's resize runs
// before its Lanczos reduction when the reduction exceeds twice the gap); partial edge blocks average what they hold.
std::vector<uint8_t> BoxShrink(const uint8_t* rgb, int width, int height, int factorX, int factorY,
                               int* shrunkWidth, int* shrunkHeight) {
  *shrunkWidth = (width + factorX - 1) / factorX;
  *shrunkHeight = (height + factorY - 1) / factorY;
  std::vector<uint8_t> shrunk(static_cast<size_t>(*shrunkWidth) * *shrunkHeight * 3);
  std::vector<uint32_t> sums(static_cast<size_t>(*shrunkWidth) * 3);
  for (int by = 0; by < *shrunkHeight; ++by) {
    std::fill(sums.begin(), sums.end(), 0u);
    const int rowFrom = by * factorY, rowTo = std::min(height, rowFrom + factorY);
    for (int y = rowFrom; y < rowTo; ++y) {
      const uint8_t* row = rgb + static_cast<size_t>(y) * width * 3;
      for (int x = 0; x < width; ++x) {
        uint32_t* sum = sums.data() + static_cast<size_t>(x / factorX) * 3;
        sum[0] += row[3 * x];
        sum[1] += row[3 * x + 1];
        sum[2] += row[3 * x + 2];
      }
    }
    uint8_t* target = shrunk.data() + static_cast<size_t>(by) * *shrunkWidth * 3;
    for (int bx = 0; bx < *shrunkWidth; ++bx) {
      const uint32_t cells = static_cast<uint32_t>((std::min(width, (bx + 1) * factorX) - bx * factorX) * (rowTo - rowFrom));
      for (int c = 0; c < 3; ++c) target[3 * bx + c] = static_cast<uint8_t>((sums[3 * bx + c] + cells / 2) / cells);
    }
  }
  return shrunk;
}

// Runs the plan on a window of the image it was made for. The window must hold every pixel the plan reads and, when
// the plan shrinks, start on a block corner; a window's last partial block is then never read, unless it is the
// image's own last block. False, with nothing written, when the window falls short.
bool CropFromWindow(const CropPlan& plan, const RgbWindow& window, int width, int height, int size, uint8_t* out) {
  int left, top, right, bottom;
  PlanReach(plan, width, height, &left, &top, &right, &bottom);
  if (window.left > left || window.top > top || window.left + window.width < right || window.top + window.height < bottom ||
      window.left % plan.shrinkX != 0 || window.top % plan.shrinkY != 0) {
    return false;
  }
  if (plan.shrinkX == 1 && plan.shrinkY == 1) {
    ResampleToPlanar(window, plan, size, out);
    return true;
  }
  RgbWindow shrunk;
  const std::vector<uint8_t> pixels =
      BoxShrink(window.pixels, window.width, window.height, plan.shrinkX, plan.shrinkY, &shrunk.width, &shrunk.height);
  shrunk.pixels = pixels.data();
  shrunk.left = window.left / plan.shrinkX;
  shrunk.top = window.top / plan.shrinkY;
  ResampleToPlanar(shrunk, plan, size, out);
  return true;
}

// What makes sharp's output differ from a plain sRGB decode: an EXIF orientation other than 1 (sharp rotates) or an
// embedded ICC profile (sharp converts through it). Scans the markers before the first scan.
const char* NeedsColourOrRotation(const uint8_t* data, size_t length) {
  size_t at = 2;
  while (at + 4 <= length && data[at] == 0xFF) {
    const uint8_t marker = data[at + 1];
    if (marker == 0xDA || marker == 0xD9) break;
    const size_t segment = (static_cast<size_t>(data[at + 2]) << 8) | data[at + 3];
    if (segment < 2 || at + 2 + segment > length) break;
    const uint8_t* body = data + at + 4;
    const size_t bodyLength = segment - 2;
    if (marker == 0xE2 && bodyLength >= 12 && std::memcmp(body, "ICC_PROFILE", 11) == 0) return "an embedded ICC profile";
    if (marker == 0xE1 && bodyLength >= 14 && std::memcmp(body, "Exif\0\0", 6) == 0) {
      const uint8_t* tiff = body + 6;
      const size_t tiffLength = bodyLength - 6;
      const bool little = tiff[0] == 'I';
      auto read16 = [&](size_t offset) -> uint32_t {
        if (offset + 2 > tiffLength) return 0;
        return little ? (tiff[offset] | (tiff[offset + 1] << 8)) : ((tiff[offset] << 8) | tiff[offset + 1]);
      };
      auto read32 = [&](size_t offset) -> uint32_t {
        if (offset + 4 > tiffLength) return 0;
        return little ? (read16(offset) | (read16(offset + 2) << 16)) : ((read16(offset) << 16) | read16(offset + 2));
      };
      const uint32_t directory = read32(4);
      const uint32_t entries = read16(directory);
      for (uint32_t e = 0; e < entries && e < 512; ++e) {
        const size_t entry = directory + 2 + static_cast<size_t>(e) * 12;
        if (entry + 12 > tiffLength) break;
        if (read16(entry) == 0x0112 && read16(entry + 8) > 1) return "an EXIF orientation to apply";
      }
    }
    at += 2 + segment;
  }
  return nullptr;
}

#ifdef CLASSWISE_WITH_TURBOJPEG
// One TurboJPEG handle per decoding thread, freed when the thread ends.
struct HandleOwner {
  tjhandle handle = tjInitDecompress();
  ~HandleOwner() {
    if (handle) tjDestroy(handle);
  }
};
tjhandle ThreadHandle() {
  thread_local HandleOwner owner;
  return owner.handle;
}

// libjpeg reports an error by a longjmp back to DecodeRegion; a warning too (corrupt or truncated data), as TurboJPEG
// fails on one: sharp, the fallback, decides what a damaged file is.
struct JpegErrors {
  jpeg_error_mgr base;
  std::jmp_buf escape;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void EscapeOnError(j_common_ptr cinfo) {
  JpegErrors* errors = reinterpret_cast<JpegErrors*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, errors->message);
  std::longjmp(errors->escape, 1);
}

void EscapeOnWarning(j_common_ptr cinfo, int level) {
  if (level < 0) EscapeOnError(cinfo);
}

// One libjpeg decode. A longjmp runs no destructors: whatever lives across libjpeg calls is here, built before the
// setjmp and freed by this destructor.
struct JpegDecode {
  jpeg_decompress_struct cinfo{};
  JpegErrors errors{};
  CropPlan plan;
  std::unique_ptr<uint8_t[]> pixels;  // libjpeg writes every byte: no zero fill
  std::vector<JSAMPROW> rows;
  ~JpegDecode() { jpeg_destroy_decompress(&cinfo); }
};

// The reference DecodeRegion must equal byte for byte (ImageTransform::decodeWholeImage, for the tests): TurboJPEG
// decodes every pixel at the same DCT scale, then the same plan crops the whole image.
DecodeStatus DecodeWholeImage(const uint8_t* data, size_t length, int denominator, const CropPlan& plan,
                              const ImageTransform& transform, uint8_t* out, std::string* reason) {
  tjhandle handle = ThreadHandle();
  int width = 0, height = 0, subsampling = 0, colourspace = 0;
  if (!handle || tjDecompressHeader3(handle, data, static_cast<unsigned long>(length), &width, &height, &subsampling, &colourspace) != 0) {
    *reason = handle ? std::string("TurboJPEG: ") + tjGetErrorStr2(handle) : "TurboJPEG could not start";
    return DecodeStatus::kNeedsFallback;
  }
  const int scaledWidth = (width + denominator - 1) / denominator;
  const int scaledHeight = (height + denominator - 1) / denominator;
  std::vector<uint8_t> rgb(static_cast<size_t>(scaledWidth) * scaledHeight * 3);
  if (tjDecompress2(handle, data, static_cast<unsigned long>(length), rgb.data(), scaledWidth, 0, scaledHeight, TJPF_RGB, 0) != 0) {
    *reason = std::string("TurboJPEG: ") + tjGetErrorStr2(handle);
    return DecodeStatus::kNeedsFallback;
  }
  RgbWindow whole;
  whole.pixels = rgb.data();
  whole.width = scaledWidth;
  whole.height = scaledHeight;
  CropFromWindow(plan, whole, scaledWidth, scaledHeight, transform.outputSize, out);
  return DecodeStatus::kDecoded;
}

// Decodes with libjpeg only the rows and columns the crop reads (and one iMCU more on each side), then crops them.
// The settings are tjDecompress2's with flags 0 (islow IDCT, fancy upsampling, the same DCT scale): the region's
// pixels are those of a whole decode.
DecodeStatus DecodeRegion(JpegDecode& decode, const uint8_t* data, size_t length, const ImageTransform& transform,
                          uint8_t* out, std::string* reason) {
  jpeg_decompress_struct& cinfo = decode.cinfo;
  cinfo.err = jpeg_std_error(&decode.errors.base);
  decode.errors.base.error_exit = EscapeOnError;
  decode.errors.base.emit_message = EscapeOnWarning;
  if (setjmp(decode.errors.escape)) {
    *reason = std::string("libjpeg: ") + decode.errors.message;
    return DecodeStatus::kNeedsFallback;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(length));
  jpeg_read_header(&cinfo, TRUE);
  const int width = static_cast<int>(cinfo.image_width), height = static_cast<int>(cinfo.image_height);
  if (static_cast<int64_t>(width) * height > kMaxInputPixels) {
    *reason = std::to_string(width) + "x" + std::to_string(height) + " pixels, above the decoder's ceiling of " +
              std::to_string(kMaxInputPixels);
    return DecodeStatus::kNeedsFallback;
  }
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    *reason = "a CMYK JPEG";
    return DecodeStatus::kNeedsFallback;
  }
  bool flip = false;
  const SourceBox box = TransformBox(width, height, transform, &flip);
  // DCT-domain scaling, as libvips' shrink-on-load in sharp: the smallest of 1/8, 1/4, 1/2 that leaves the crop at
  // least twice the output, so that the Lanczos reduction still does the last factor of 2 or more.
  int denominator = 1;
  for (int candidate : {8, 4, 2}) {
    if (transform.dctScaling && box.width / candidate >= kShrinkGap * transform.outputSize &&
        box.height / candidate >= kShrinkGap * transform.outputSize) {
      denominator = candidate;
      break;
    }
  }
  // libjpeg scales by exactly 1/denominator; a last partial row or column is the edge's padding.
  const int scaledWidth = (width + denominator - 1) / denominator;
  const int scaledHeight = (height + denominator - 1) / denominator;
  decode.plan = PlanCrop(scaledWidth, scaledHeight, 1.0 / denominator, box, flip, transform);
  if (transform.decodeWholeImage) return DecodeWholeImage(data, length, denominator, decode.plan, transform, out, reason);

  cinfo.scale_num = 1;
  cinfo.scale_denom = static_cast<unsigned int>(denominator);
  cinfo.out_color_space = JCS_RGB;  // grayscale too: libjpeg repeats the channel
  jpeg_start_decompress(&cinfo);
  if (static_cast<int>(cinfo.output_width) != scaledWidth || static_cast<int>(cinfo.output_height) != scaledHeight ||
      cinfo.output_components != 3) {
    *reason = "libjpeg scaled to " + std::to_string(cinfo.output_width) + "x" + std::to_string(cinfo.output_height);
    return DecodeStatus::kNeedsFallback;
  }
#if JPEG_LIB_VERSION >= 70
  const int blockWidth = cinfo.min_DCT_h_scaled_size, blockHeight = cinfo.min_DCT_v_scaled_size;
#else
  const int blockWidth = cinfo.min_DCT_scaled_size, blockHeight = cinfo.min_DCT_scaled_size;
#endif
  // Columns: fancy chroma upsampling treats the region's side edges as the image's and so changes the pixels next
  // to them; one iMCU (16 source pixels at 4:2:0) more on each side keeps those out of what the crop reads. Rows need
  // no margin: libjpeg reads on past the last row read for its upsampling context, and jpeg_skip_scanlines decodes the
  // iMCU row above the first row read for it. The region starts on an iMCU (where jpeg_crop_scanline and a skip of
  // whole iMCU rows can start) and on a corner of the box shrink's blocks.
  const int iMcuWidth = cinfo.max_h_samp_factor * blockWidth, iMcuHeight = cinfo.max_v_samp_factor * blockHeight;
  const int stepX = std::lcm(iMcuWidth, decode.plan.shrinkX), stepY = std::lcm(iMcuHeight, decode.plan.shrinkY);
  int left, top, right, bottom;
  PlanReach(decode.plan, scaledWidth, scaledHeight, &left, &top, &right, &bottom);
  left = std::max(0, left - iMcuWidth) / stepX * stepX;
  right = std::min(scaledWidth, right + iMcuWidth);
  top = top / stepY * stepY;
  JDIMENSION cropLeft = static_cast<JDIMENSION>(left), cropWidth = static_cast<JDIMENSION>(right - left);
  jpeg_crop_scanline(&cinfo, &cropLeft, &cropWidth);  // may widen to the left, to an iMCU column
  RgbWindow window;
  window.left = static_cast<int>(cropLeft);
  window.top = top;
  window.width = static_cast<int>(cropWidth);
  window.height = bottom - top;
  decode.pixels.reset(new uint8_t[static_cast<size_t>(window.width) * window.height * 3]);
  window.pixels = decode.pixels.get();
  decode.rows.resize(static_cast<size_t>(window.height));
  for (int row = 0; row < window.height; ++row) decode.rows[row] = decode.pixels.get() + static_cast<size_t>(row) * window.width * 3;
  if (top > 0) jpeg_skip_scanlines(&cinfo, static_cast<JDIMENSION>(top));
  while (static_cast<int>(cinfo.output_scanline) < bottom) {
    const int row = static_cast<int>(cinfo.output_scanline) - top;
    jpeg_read_scanlines(&cinfo, decode.rows.data() + row, static_cast<JDIMENSION>(window.height - row));
  }
  // The rows further below are never decoded: the destructor aborts the decode.
  if (!CropFromWindow(decode.plan, window, scaledWidth, scaledHeight, transform.outputSize, out)) {
    *reason = "the decoded region misses pixels of the crop";
    return DecodeStatus::kNeedsFallback;
  }
  return DecodeStatus::kDecoded;
}
#endif

}  // namespace

bool JpegDecoderAvailable() {
#ifdef CLASSWISE_WITH_TURBOJPEG
  return true;
#else
  return false;
#endif
}

SourceBox TransformBox(int width, int height, const ImageTransform& transform, bool* flip) {
  *flip = false;
  const int size = transform.outputSize;
  if (!transform.augment) {
    const double shorter = RoundHalfUp(size / kCenterCropFraction);
    const double scale = shorter / std::min(width, height);
    const double scaledWidth = std::max<double>(size, RoundHalfUp(width * scale));
    const double scaledHeight = std::max<double>(size, RoundHalfUp(height * scale));
    const double left = std::floor((scaledWidth - size) / 2);
    const double top = std::floor((scaledHeight - size) / 2);
    // The center crop of the image resized to scaledWidth x scaledHeight, in source pixels.
    const double perX = width / scaledWidth, perY = height / scaledHeight;
    return {left * perX, top * perY, size * perX, size * perY};
  }
  Mulberry32 random(transform.randomSeed);
  const double area = static_cast<double>(width) * height;
  SourceBox box;
  bool found = false;
  for (int attempt = 0; attempt < kCropAttempts && !found; ++attempt) {
    const double targetArea = area * (kCropScaleMin + random.Next() * (kCropScaleMax - kCropScaleMin));
    const double logRatio = std::log(kCropRatioMin) + random.Next() * (std::log(kCropRatioMax) - std::log(kCropRatioMin));
    const double ratio = std::exp(logRatio);
    const double w = RoundHalfUp(std::sqrt(targetArea * ratio));
    const double h = RoundHalfUp(std::sqrt(targetArea / ratio));
    if (w > 0 && h > 0 && w <= width && h <= height) {
      const double left = std::floor(random.Next() * (width - w + 1));
      const double top = std::floor(random.Next() * (height - h + 1));
      box = {left, top, w, h};
      found = true;
    }
  }
  if (!found) {
    const int side = std::min(width, height);
    box = {std::floor((width - side) / 2.0), std::floor((height - side) / 2.0), static_cast<double>(side), static_cast<double>(side)};
  }
  *flip = random.Next() < 0.5;
  // sharp mirrors the image before it extracts the crop: the crop lies at the mirrored place.
  if (*flip) box.left = width - box.left - box.width;
  return box;
}

DecodeStatus DecodeJpegCrop(const uint8_t* data, size_t length, const ImageTransform& transform, uint8_t* out,
                            std::string* reason) {
#ifndef CLASSWISE_WITH_TURBOJPEG
  (void)data, (void)length, (void)transform, (void)out;
  *reason = "this build has no libjpeg-turbo";
  return DecodeStatus::kNeedsFallback;
#else
  if (length < 4 || data[0] != 0xFF || data[1] != 0xD8) {
    *reason = "not a JPEG stream";
    return DecodeStatus::kNeedsFallback;
  }
  if (const char* why = NeedsColourOrRotation(data, length)) {
    *reason = why;
    return DecodeStatus::kNeedsFallback;
  }
  JpegDecode decode;
  return DecodeRegion(decode, data, length, transform, out, reason);
#endif
}

DecodeStatus DecodeRgbCrop(const uint8_t* rgb, int width, int height, const ImageTransform& transform, uint8_t* out,
                           std::string* reason) {
  if (width <= 0 || height <= 0 || static_cast<int64_t>(width) * height > kMaxInputPixels) {
    *reason = "raw image of " + std::to_string(width) + "x" + std::to_string(height) + " pixels";
    return DecodeStatus::kNeedsFallback;
  }
  bool flip = false;
  const SourceBox box = TransformBox(width, height, transform, &flip);
  RgbWindow whole;
  whole.pixels = rgb;
  whole.width = width;
  whole.height = height;
  CropFromWindow(PlanCrop(width, height, 1.0, box, flip, transform), whole, width, height, transform.outputSize, out);
  return DecodeStatus::kDecoded;
}

}  // namespace classwise
