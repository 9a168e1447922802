// NegativeLogLikelihoodLoss (ops_ext.h); SoftmaxCrossEntropyLoss lowers to LogSoftmax + this.
#include <string>
#include <vector>

#include "ops_types.h"
#include "sparq/error.h"
#include "sparq/ops_ext.h"

namespace sparq {
namespace {

using detail::Num;

template <typename T>
void nll_typed(const T* x, int64_t N, int64_t C, int64_t D, const std::vector<int64_t>& t, const T* w, int reduction,
               bool has_ignore, int64_t ignore, T* y) {
  double total = 0, weights = 0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t d = 0; d < D; ++d) {
      const int64_t c = t[static_cast<size_t>(n * D + d)];
      double loss = 0, wt = 0;
      if (!(has_ignore && c == ignore)) {
        wt = w ? static_cast<double>(Num<T>::load(w[c])) : 1.0;
        loss = -static_cast<double>(Num<T>::load(x[(n * C + c) * D + d])) * wt;
      }
      if (reduction == 0) y[n * D + d] = Num<T>::store(static_cast<typename Num<T>::C>(loss));
      total += loss;
      weights += wt;
    }
  if (reduction == 1) y[0] = Num<T>::store(static_cast<typename Num<T>::C>(total));
  if (reduction == 2) y[0] = Num<T>::store(static_cast<typename Num<T>::C>(total / weights));
}

}  // namespace

void nll_loss(DType dtype, const void* x, int64_t N, int64_t C, int64_t D, DType target_type, const void* target,
              const void* weight, int reduction, bool has_ignore, int64_t ignore_index, void* y) {
  if (reduction < 0 || reduction > 2) throw invalid_argument("NegativeLogLikelihoodLoss: unknown reduction");
  if (target_type != DType::int64 && target_type != DType::int32) detail::unsupported_dtype("NegativeLogLikelihoodLoss targets", target_type);
  std::vector<int64_t> t(static_cast<size_t>(N * D));
  for (size_t i = 0; i < t.size(); ++i) {
    const int64_t c = target_type == DType::int64 ? static_cast<const int64_t*>(target)[i] : static_cast<const int32_t*>(target)[i];
    if (!(has_ignore && c == ignore_index) && (c < 0 || c >= C))
      throw Error("ERR_INDEX_OUT_OF_RANGE", "NegativeLogLikelihoodLoss: target " + std::to_string(c) + " is outside [0, " + std::to_string(C) + ")");
    t[i] = c;
  }
  switch (dtype) {
    case DType::float32:
      return nll_typed(static_cast<const float*>(x), N, C, D, t, static_cast<const float*>(weight), reduction, has_ignore,
                       ignore_index, static_cast<float*>(y));
    case DType::float64:
      return nll_typed(static_cast<const double*>(x), N, C, D, t, static_cast<const double*>(weight), reduction, has_ignore,
                       ignore_index, static_cast<double*>(y));
    case DType::float16:
      return nll_typed(static_cast<const detail::Half*>(x), N, C, D, t, static_cast<const detail::Half*>(weight), reduction,
                       has_ignore, ignore_index, static_cast<detail::Half*>(y));
    default: detail::unsupported_dtype("NegativeLogLikelihoodLoss", dtype);
  }
}

}  // namespace sparq
