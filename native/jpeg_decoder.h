// One image file's bytes to a square uint8 CHW crop: libjpeg-turbo decodes only the rows and columns of the crop
// (DCT-domain scaling where the crop is at least twice the target), then a separable antialiased resample of the
// crop. What libjpeg-turbo cannot read as sRGB
// (PNG, CMYK/YCCK, an EXIF rotation, an embedded ICC profile, a damaged stream) is reported for the fallback decoder.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace classwise {

// Whether this build links libjpeg-turbo (CMake found turbojpeg.h, jpeglib.h, libturbojpeg and libjpeg).
bool JpegDecoderAvailable();

// A crop of the source image in its own pixel coordinates.
struct SourceBox {
  double left = 0, top = 0, width = 0, height = 0;
};

// How one image becomes its output: the crop and flip come from the image's size (known only after the header).
struct ImageTransform {
  int outputSize = 224;
  bool augment = false;     // random-resized crop + flip (train) or resize + center crop (eval)
  uint32_t randomSeed = 0;  // Mulberry32 state of this example (src/data/random.ts)
  bool dctScaling = true;   // decode at 1/2, 1/4 or 1/8 size when the crop is at least that many times the output
  // Tests only: decode every pixel (TurboJPEG) and crop from the whole image, the reference that the decode of the
  // crop's region alone must equal byte for byte.
  bool decodeWholeImage = false;
};

enum class DecodeStatus : int32_t { kDecoded = 0, kNeedsFallback = 1 };

// Decodes `data` into out[3][size][size]; on kNeedsFallback, `reason` says why and `out` is untouched. Thread-safe.
DecodeStatus DecodeJpegCrop(const uint8_t* data, size_t length, const ImageTransform& transform, uint8_t* out,
                            std::string* reason);

// The same transform from interleaved RGB pixels (a packed dataset's raw small images); needs no libjpeg-turbo.
DecodeStatus DecodeRgbCrop(const uint8_t* rgb, int width, int height, const ImageTransform& transform, uint8_t* out,
                           std::string* reason);

// The crop of today's sharp path (src/data/imagenet.ts) for a width x height image; exposed for the tests.
SourceBox TransformBox(int width, int height, const ImageTransform& transform, bool* flip);

}  // namespace classwise
