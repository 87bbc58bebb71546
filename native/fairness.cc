#include "fairness.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "errors.h"
#include "tensor_bridge.h"

namespace classwise {
namespace {

// Bisection steps of FAAL's one-dimensional search (the bracket shrinks by 2^-kFaalBisections).
constexpr int kFaalBisections = 200;

// The stationarity conditions give p_c(nu) = (u_c / (nu - m_c)) / sum_j u_j / (nu - m_j) for nu > max m; KL(u || p)
// falls monotonically from +inf (nu -> max m) to 0 (nu -> inf), so nu solving KL = radius is found by bisection.
std::vector<double> FaalDistribution(const std::vector<double>& m, double radius) {
  const size_t n = m.size();
  const double top = *std::max_element(m.begin(), m.end());
  const double bottom = *std::min_element(m.begin(), m.end());
  std::vector<double> p(n, 1.0 / static_cast<double>(n));
  if (n < 2 || top - bottom <= 0 || radius <= 0) return p;
  const double u = 1.0 / static_cast<double>(n);
  auto distribution = [&](double nu) {
    std::vector<double> q(n);
    double total = 0;
    for (size_t c = 0; c < n; ++c) total += q[c] = u / (nu - m[c]);
    for (double& value : q) value /= total;
    return q;
  };
  auto divergence = [&](const std::vector<double>& q) {
    double kl = 0;
    for (double value : q) kl += u * std::log(u / value);
    return kl;
  };
  // The spread of the margins sets the scale: at nu = top + spread * 2^k the distribution is near uniform.
  const double spread = top - bottom;
  double low = top;
  double high = top + spread;
  while (divergence(distribution(high)) > radius && high - top < spread * 1e12) high = top + 2 * (high - top);
  for (int i = 0; i < kFaalBisections; ++i) {
    const double middle = 0.5 * (low + high);
    if (middle <= low || middle >= high) break;
    if (divergence(distribution(middle)) > radius) low = middle;
    else high = middle;
  }
  return distribution(high);
}

}  // namespace

torch::Tensor FaalClassWeights(const torch::Tensor& margins, const torch::Tensor& present, double radius) {
  torch::Tensor m = margins.to(torch::kFloat64).contiguous().cpu();
  torch::Tensor mask = present.to(torch::kBool).contiguous().cpu();
  const int64_t classes = m.size(0);
  std::vector<double> values;
  std::vector<int64_t> index;
  for (int64_t c = 0; c < classes; ++c) {
    if (mask[c].item<bool>()) {
      values.push_back(m[c].item<double>());
      index.push_back(c);
    }
  }
  torch::Tensor weights = torch::ones({classes}, torch::kFloat64);
  if (values.empty()) return weights;
  std::vector<double> p = FaalDistribution(values, radius);
  double* out = weights.data_ptr<double>();
  for (size_t i = 0; i < index.size(); ++i) out[index[i]] = static_cast<double>(index.size()) * p[i];
  return weights;
}

Napi::Value FaalClassWeightsBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    torch::Tensor margins = CopyFloat64Array(info[0], "margins");
    const double* data = margins.data_ptr<double>();
    for (int64_t c = 0; c < margins.size(0); ++c) {
      if (!std::isfinite(data[c])) throw ClasswiseError(kNonFinite, "margins[" + std::to_string(c) + "] is not finite; pass finite per-class margins");
    }
    if (info.Length() < 2 || !info[1].IsNumber() || !std::isfinite(info[1].As<Napi::Number>().DoubleValue()) || info[1].As<Napi::Number>().DoubleValue() < 0) {
      throw ClasswiseError(kOutOfRange, "faalClassWeights radius must be a finite number >= 0 (FAAL's default is 0.5)");
    }
    torch::Tensor weights = FaalClassWeights(margins, torch::ones({margins.size(0)}, torch::kBool), info[1].As<Napi::Number>().DoubleValue());
    Napi::Float64Array result = Napi::Float64Array::New(env, weights.size(0));
    std::copy(weights.data_ptr<double>(), weights.data_ptr<double>() + weights.size(0), result.Data());
    return result;
  });
}

}  // namespace classwise
