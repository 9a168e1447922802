// The CUDA kernels against CPU references (built only with -DSPARQ_CUDA=ON). int8 results are compared
// exactly (int32 accumulators, unit scales), fp16/fp32 within a rounding bound; shapes are odd, rows of
// the inputs are padded with garbage the kernels must not read, and outputs are NaN-prefilled with a
// wider row so writes outside [M][N] are caught. The host_* cases (packing, fp16 conversion) need no
// GPU; the rest are skipped with a message where there is no CUDA device.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "check.h"
#include "cuda_test_main.h"
#include "sparq/cuda.h"
#include "sparq/error.h"
#include "sparq/packed.h"

namespace cu = sparq::cuda;
using sparq::Activation;

namespace {

struct Shape {
  int64_t M, N, K;
};

// Odd shapes for every kernel, plus ones that select each GEMM tile (decode, mid, full-GPU).
std::vector<Shape> gemm_shapes() {
  return {{1, 1, 1},     {3, 5, 7},       {1, 100, 200},   {16, 300, 1000}, {17, 33, 65},
          {64, 64, 64},  {100, 130, 300}, {129, 257, 513}, {200, 72, 40},   {1536, 1536, 192}};
}

template <class T>
cu::DeviceBuffer to_device(const std::vector<T>& v) {
  cu::DeviceBuffer b(std::max<size_t>(v.size() * sizeof(T), 16));
  b.upload(v.data(), v.size() * sizeof(T));
  return b;
}

template <class T>
std::vector<T> from_device(const cu::DeviceBuffer& b, size_t n) {
  std::vector<T> v(n);
  b.download(v.data(), n * sizeof(T));
  return v;
}

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

std::vector<int8_t> random_s8(size_t n, uint32_t seed, int lo = -127, int hi = 127) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<int8_t> v(n);
  for (auto& x : v) x = static_cast<int8_t>(d(rng));
  return v;
}

// Rows of `cols` values in a buffer of rows x ld; the padding holds garbage (must never be read).
template <class T>
std::vector<T> padded(const std::vector<T>& dense, int64_t rows, int64_t cols, int64_t ld, T garbage) {
  std::vector<T> out(static_cast<size_t>(std::max<int64_t>(rows * ld, 1)), garbage);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out[r * ld + c] = dense[r * cols + c];
  return out;
}

double act_ref(double v, Activation a) {
  if (a == Activation::relu) return v > 0 ? v : 0;
  if (a == Activation::gelu) return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
  return v;
}

// Checks y (rows of ldy floats) against want[M][N] within tol·scale[m][n], and that the padding
// columns [N, ldy) are still NaN.
void check_output(const std::vector<float>& y, int64_t M, int64_t N, int64_t ldy, const std::vector<double>& want,
                  const std::vector<double>& scale, double tol, const char* what, const Shape& s) {
  double worst = 0;
  int64_t bad = -1, overwritten = 0;
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t n = 0; n < N; ++n) {
      const double got = y[m * ldy + n];
      const double e = std::isnan(got) ? INFINITY : std::fabs(got - want[m * N + n]) / scale[m * N + n];
      if (e > worst) {
        worst = e;
        bad = m * N + n;
      }
    }
    for (int64_t n = N; n < ldy; ++n) overwritten += !std::isnan(y[m * ldy + n]);
  }
  CHECK_MSG(worst <= tol, "%s M=%lld N=%lld K=%lld: worst scaled error %.3g at (%lld, %lld): got %.9g want %.9g", what,
            (long long)s.M, (long long)s.N, (long long)s.K, worst, (long long)(bad / N), (long long)(bad % N),
            bad >= 0 ? y[(bad / N) * ldy + bad % N] : 0.0, bad >= 0 ? want[bad] : 0.0);
  CHECK_MSG(overwritten == 0, "%s M=%lld N=%lld: %lld writes outside [M][N]", what, (long long)M, (long long)N,
            (long long)overwritten);
}

// ---- int8 dense ----

enum class S8Kernel { dispatch, mma, wgmma };

void run_gemm_s8(const Shape& s, bool epilogue, Activation act, uint32_t seed, S8Kernel kernel = S8Kernel::dispatch) {
  const int64_t lda = round_up(s.K, 16) + 16, ldb = round_up(s.K, 16) + 32, ldc = s.N + 3;
  auto a = random_s8(s.M * s.K, seed), b = random_s8(s.N * s.K, seed + 1);
  std::vector<float> sa(s.M), sb(s.N), bias(s.N);
  auto r = sparq_test::random_vector(s.M + 2 * s.N, seed + 2, 0.001f, 0.01f);
  for (int64_t m = 0; m < s.M; ++m) sa[m] = r[m];
  for (int64_t n = 0; n < s.N; ++n) {
    sb[n] = r[s.M + n];
    bias[n] = (r[s.M + s.N + n] - 0.005f) * 100.0f;
  }
  auto da = to_device(padded<int8_t>(a, s.M, s.K, lda, int8_t(77)));
  auto db = to_device(padded<int8_t>(b, s.N, s.K, ldb, int8_t(-91)));
  auto dsa = to_device(sa), dsb = to_device(sb), dbias = to_device(bias);
  auto dc = to_device(sparq_test::nan_filled(s.M * ldc));
  cu::GemmS8Args p;
  p.a = da.as<int8_t>(); p.lda = lda;
  p.b = db.as<int8_t>(); p.ldb = ldb;
  p.M = s.M; p.N = s.N; p.K = s.K;
  if (epilogue) {
    p.scale_a = dsa.as<float>();
    p.scale_b = dsb.as<float>();
    p.bias = dbias.as<float>();
    p.act = act;
  }
  p.c = dc.as<float>(); p.ldc = ldc;
  if (kernel == S8Kernel::mma) cu::gemm_s8_mma(p);
  else if (kernel == S8Kernel::wgmma) cu::gemm_s8_wgmma(p);
  else cu::gemm_s8(p);
  cu::synchronize();
  auto y = from_device<float>(dc, s.M * ldc);
  std::vector<double> want(s.M * s.N), scale(s.M * s.N);
  for (int64_t m = 0; m < s.M; ++m)
    for (int64_t n = 0; n < s.N; ++n) {
      int64_t acc = 0;
      for (int64_t k = 0; k < s.K; ++k) acc += int64_t(a[m * s.K + k]) * b[n * s.K + k];
      if (epilogue) {
        const double v = double(float(acc)) * double(sa[m] * sb[n]) + bias[n];
        want[m * s.N + n] = act_ref(v, act);
        scale[m * s.N + n] = std::fabs(double(acc)) * sa[m] * sb[n] + std::fabs(bias[n]) + 1.0;
      } else {
        want[m * s.N + n] = double(acc);  // exact: |acc| < 2^24 for these K
        scale[m * s.N + n] = 1.0;
      }
    }
  const char* names[] = {"gemm_s8", "gemm_s8_mma", "gemm_s8_wgmma"};
  const std::string what = std::string(names[int(kernel)]) + (epilogue ? " epilogue" : " exact");
  check_output(y, s.M, s.N, ldc, want, scale, epilogue ? 1e-5 : 0.0, what.c_str(), s);
}

// ---- fp16 / fp32 dense ----

void run_gemm_f16(const Shape& s, Activation act, uint32_t seed) {
  const int64_t lda = round_up(s.K, 8) + 8, ldb = round_up(s.K, 8) + 16, ldc = s.N + 5;
  auto af = sparq_test::random_vector(s.M * s.K, seed), bf = sparq_test::random_vector(s.N * s.K, seed + 1);
  auto bias = sparq_test::random_vector(s.N, seed + 2);
  std::vector<uint16_t> a(af.size()), b(bf.size());
  for (size_t i = 0; i < af.size(); ++i) a[i] = cu::float_to_half(af[i]);
  for (size_t i = 0; i < bf.size(); ++i) b[i] = cu::float_to_half(bf[i]);
  auto da = to_device(padded<uint16_t>(a, s.M, s.K, lda, uint16_t(0x7e00)));  // NaN padding: any read shows
  auto db = to_device(padded<uint16_t>(b, s.N, s.K, ldb, uint16_t(0x7e00)));
  auto dbias = to_device(bias);
  auto dc = to_device(sparq_test::nan_filled(s.M * ldc));
  cu::GemmF16Args p;
  p.a = da.as<uint16_t>(); p.lda = lda;
  p.b = db.as<uint16_t>(); p.ldb = ldb;
  p.M = s.M; p.N = s.N; p.K = s.K;
  p.bias = dbias.as<float>();
  p.act = act;
  p.c = dc.as<float>(); p.ldc = ldc;
  cu::gemm_f16(p);
  cu::synchronize();
  auto y = from_device<float>(dc, s.M * ldc);
  std::vector<double> want(s.M * s.N), scale(s.M * s.N);
  for (int64_t m = 0; m < s.M; ++m)
    for (int64_t n = 0; n < s.N; ++n) {
      double acc = bias[n], mag = std::fabs(bias[n]) + 1.0;
      for (int64_t k = 0; k < s.K; ++k) {
        const double x = cu::half_to_float(a[m * s.K + k]), w = cu::half_to_float(b[n * s.K + k]);
        acc += x * w;
        mag += std::fabs(x * w);
      }
      want[m * s.N + n] = act_ref(acc, act);
      scale[m * s.N + n] = mag;
    }
  check_output(y, s.M, s.N, ldc, want, scale, 1e-5, "gemm_f16", s);
}

void run_gemm_f32(const Shape& s, Activation act, uint32_t seed) {
  const int64_t lda = s.K + 3, ldb = s.K + 1, ldc = s.N + 2;
  auto a = sparq_test::random_vector(s.M * s.K, seed), b = sparq_test::random_vector(s.N * s.K, seed + 1);
  auto bias = sparq_test::random_vector(s.N, seed + 2);
  const float nan = std::nanf("");
  auto da = to_device(padded<float>(a, s.M, s.K, lda, nan));
  auto db = to_device(padded<float>(b, s.N, s.K, ldb, nan));
  auto dbias = to_device(bias);
  auto dc = to_device(sparq_test::nan_filled(s.M * ldc));
  cu::GemmF32Args p;
  p.a = da.as<float>(); p.lda = lda;
  p.b = db.as<float>(); p.ldb = ldb;
  p.M = s.M; p.N = s.N; p.K = s.K;
  p.bias = dbias.as<float>();
  p.act = act;
  p.c = dc.as<float>(); p.ldc = ldc;
  cu::gemm_f32(p);
  cu::synchronize();
  auto y = from_device<float>(dc, s.M * ldc);
  std::vector<double> want(s.M * s.N), scale(s.M * s.N);
  for (int64_t m = 0; m < s.M; ++m)
    for (int64_t n = 0; n < s.N; ++n) {
      double acc = bias[n], mag = std::fabs(bias[n]) + 1.0;
      for (int64_t k = 0; k < s.K; ++k) {
        acc += double(a[m * s.K + k]) * b[n * s.K + k];
        mag += std::fabs(double(a[m * s.K + k]) * b[n * s.K + k]);
      }
      want[m * s.N + n] = act_ref(acc, act);
      scale[m * s.N + n] = mag;
    }
  check_output(y, s.M, s.N, ldc, want, scale, 1e-5, "gemm_f32", s);
}

// ---- 2:4 ----

void run_2to4(const Shape& s, bool epilogue, uint32_t seed) {
  auto w = random_s8(s.N * s.K, seed);
  cu::prune_2to4_s8(w.data(), s.N, s.K);
  auto x = random_s8(s.M * s.K, seed + 1);
  const int64_t ldx = round_up(s.K, 16) + 16, ldy = s.N + 1;
  auto sx = sparq_test::random_vector(s.M, seed + 2, 0.001f, 0.01f);
  auto sw = sparq_test::random_vector(s.N, seed + 3, 0.001f, 0.01f);
  auto bias = sparq_test::random_vector(s.N, seed + 4);
  cu::Sparse24S8 dw = cu::upload_2to4_s8(w.data(), s.N, s.K);
  auto dx = to_device(padded<int8_t>(x, s.M, s.K, ldx, int8_t(55)));
  auto dsx = to_device(sx), dsw = to_device(sw), dbias = to_device(bias);
  auto dy = to_device(sparq_test::nan_filled(s.M * ldy));
  cu::Gemm2to4Args p;
  p.w = &dw;
  p.x = dx.as<int8_t>(); p.ldx = ldx;
  p.M = s.M;
  if (epilogue) {
    p.scale_x = dsx.as<float>();
    p.scale_w = dsw.as<float>();
    p.bias = dbias.as<float>();
    p.act = Activation::relu;
  }
  p.y = dy.as<float>(); p.ldy = ldy;
  cu::gemm_2to4_s8(p);
  cu::synchronize();
  auto y = from_device<float>(dy, s.M * ldy);
  std::vector<double> want(s.M * s.N), scale(s.M * s.N);
  for (int64_t m = 0; m < s.M; ++m)
    for (int64_t n = 0; n < s.N; ++n) {
      int64_t acc = 0;
      for (int64_t k = 0; k < s.K; ++k) acc += int64_t(x[m * s.K + k]) * w[n * s.K + k];
      if (epilogue) {
        want[m * s.N + n] = act_ref(double(float(acc)) * double(sx[m] * sw[n]) + bias[n], Activation::relu);
        scale[m * s.N + n] = std::fabs(double(acc)) * sx[m] * sw[n] + std::fabs(bias[n]) + 1.0;
      } else {
        want[m * s.N + n] = double(acc);
        scale[m * s.N + n] = 1.0;
      }
    }
  check_output(y, s.M, s.N, ldy, want, scale, epilogue ? 1e-5 : 0.0, epilogue ? "gemm_2to4 epilogue" : "gemm_2to4 exact", s);
}

// ---- sparse fp16 ----

std::vector<float> random_sparse(int64_t rows, int64_t cols, double density, int block, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> val(-1.0f, 1.0f), keep(0.0f, 1.0f);
  std::vector<float> w(static_cast<size_t>(rows * cols), 0.0f);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c0 = 0; c0 < cols; c0 += block)
      if (keep(rng) < density)
        for (int64_t c = c0; c < std::min(cols, c0 + block); ++c) w[r * cols + c] = val(rng);
  return w;
}

void run_spmm(const Shape& s, int block, uint32_t seed) {
  auto w = random_sparse(s.N, s.K, 0.1, block, seed);
  auto xf = sparq_test::random_vector(s.M * s.K, seed + 1);
  auto bias = sparq_test::random_vector(s.N, seed + 2);
  std::vector<uint16_t> x(xf.size());
  for (size_t i = 0; i < xf.size(); ++i) x[i] = cu::float_to_half(xf[i]);
  const int64_t ldx = s.K + 3, ldy = s.N + 2;
  cu::SparseF16 dw = cu::upload_sparse_f16(w.data(), s.N, s.K, block);
  auto dx = to_device(padded<uint16_t>(x, s.M, s.K, ldx, uint16_t(0x7e00)));
  auto dbias = to_device(bias);
  auto dy = to_device(sparq_test::nan_filled(s.M * ldy));
  cu::SpmmF16Args p;
  p.w = &dw;
  p.x = dx.as<uint16_t>(); p.ldx = ldx;
  p.M = s.M;
  p.bias = dbias.as<float>();
  p.act = Activation::gelu;
  p.y = dy.as<float>(); p.ldy = ldy;
  cu::spmm_f16(p);
  cu::synchronize();
  auto y = from_device<float>(dy, s.M * ldy);
  std::vector<double> want(s.M * s.N), scale(s.M * s.N);
  for (int64_t m = 0; m < s.M; ++m)
    for (int64_t n = 0; n < s.N; ++n) {
      double acc = bias[n], mag = std::fabs(bias[n]) + 1.0;
      for (int64_t k = 0; k < s.K; ++k) {
        const double wv = cu::half_to_float(cu::float_to_half(w[n * s.K + k]));
        const double xv = cu::half_to_float(x[m * s.K + k]);
        acc += wv * xv;
        mag += std::fabs(wv * xv);
      }
      want[m * s.N + n] = act_ref(acc, Activation::gelu);
      scale[m * s.N + n] = mag;
    }
  check_output(y, s.M, s.N, ldy, want, scale, 1e-5, block == 1 ? "spmm_f16 unstructured" : "spmm_f16 1x4 blocks", s);
}

}  // namespace

// ---------------- host-only cases (no GPU needed) ----------------

TEST(host_half_conversion) {
  CHECK(cu::float_to_half(1.0f) == 0x3c00);
  CHECK(cu::float_to_half(-2.0f) == 0xc000);
  CHECK(cu::float_to_half(65504.0f) == 0x7bff);
  CHECK(cu::float_to_half(65520.0f) == 0x7c00);
  CHECK(cu::float_to_half(1.0f / 3.0f) == 0x3555);
  CHECK(cu::float_to_half(std::ldexp(1.0f, -24)) == 0x0001);
  CHECK(cu::float_to_half(std::ldexp(1.0f, -25)) == 0x0000);  // halfway, ties to even
  CHECK(cu::float_to_half(std::ldexp(1.5f, -25)) == 0x0001);
  CHECK((cu::float_to_half(std::nanf("")) & 0x7fff) > 0x7c00);
  int mismatches = 0;
  for (uint32_t h = 0; h < 65536; ++h) {
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue;  // NaNs
    if (cu::float_to_half(cu::half_to_float(uint16_t(h))) != h) ++mismatches;
  }
  CHECK_MSG(mismatches == 0, "%d fp16 values do not round-trip", mismatches);
}

TEST(host_2to4_pack_roundtrip) {
  for (Shape s : {Shape{0, 1, 1}, Shape{0, 5, 7}, Shape{0, 17, 130}, Shape{0, 130, 64}}) {
    auto w = random_s8(s.N * s.K, 11 + uint32_t(s.K));
    cu::prune_2to4_s8(w.data(), s.N, s.K);
    for (int64_t n = 0; n < s.N; ++n)
      for (int64_t k0 = 0; k0 < s.K; k0 += 4) {
        int nz = 0;
        for (int64_t k = k0; k < std::min(s.K, k0 + 4); ++k) nz += w[n * s.K + k] != 0;
        CHECK(nz <= 2);
      }
    for (int layout = 0; layout < cu::kSparse24Layouts; ++layout) {
      cu::Sparse24Host h = cu::pack_2to4_s8(w.data(), s.N, s.K, layout);
      CHECK(h.Kpad % 128 == 0 && h.Npad % 128 == 0);
      CHECK_MSG(cu::unpack_2to4_s8(h, layout) == w, "layout %d N=%lld K=%lld", layout, (long long)s.N, (long long)s.K);
      for (uint32_t e : h.meta)
        for (int j = 0; j < 8; ++j) {
          const uint32_t nib = (e >> (4 * j)) & 15;
          CHECK((nib & 3) < (nib >> 2));  // indices distinct and increasing (ordered metadata)
        }
    }
  }
  std::vector<int8_t> dense(8, 1);
  bool threw = false;
  try {
    cu::pack_2to4_s8(dense.data(), 1, 8, 0);
  } catch (const sparq::Error& e) {
    threw = e.code() == "ERR_INVALID_ARGUMENT";
  }
  CHECK_MSG(threw, "packing a dense matrix as 2:4 must throw ERR_INVALID_ARGUMENT");
}

TEST(host_sparse_pack) {
  for (int block : {1, 4}) {
    const int64_t N = 37, K = 203;
    auto w = random_sparse(N, K, 0.1, block, 5);
    cu::SparseF16Host h = cu::pack_sparse_f16(w.data(), N, K, block);
    std::vector<float> back(static_cast<size_t>(N * K), 0.0f);
    for (int64_t n = 0; n < N; ++n)
      for (int32_t e = h.row_ptr[n]; e < h.row_ptr[n + 1]; ++e)
        for (int b = 0; b < block; ++b) {
          const int64_t k = int64_t(h.cols[e]) * block + b;
          if (k < K) back[n * K + k] = cu::half_to_float(h.values[size_t(e) * block + b]);
          else CHECK(h.values[size_t(e) * block + b] == 0);
        }
    int bad = 0;
    for (size_t i = 0; i < w.size(); ++i) bad += back[i] != cu::half_to_float(cu::float_to_half(w[i]));
    CHECK_MSG(bad == 0, "block %d: %d values differ after packing", block, bad);
    for (size_t i = 1; i < h.order.size(); ++i) {
      const int32_t a = h.order[i - 1], b = h.order[i];
      CHECK(h.row_ptr[a + 1] - h.row_ptr[a] >= h.row_ptr[b + 1] - h.row_ptr[b]);
    }
  }
}

// ---------------- device cases ----------------

TEST(cuda_device_info) {
  const auto& d = cu::device_info();
  CHECK(d.available);
  CHECK(d.sms > 0 && d.memory > 0 && !d.name.empty() && d.cc_major >= 8);
  std::printf("  device: %s, %d SMs, %.1f GiB, sm_%d%d\n", d.name.c_str(), d.sms, d.memory / 1073741824.0, d.cc_major,
              d.cc_minor);
}

TEST(cuda_gemm_s8_exact) {
  uint32_t seed = 100;
  for (const Shape& s : gemm_shapes()) run_gemm_s8(s, false, Activation::none, seed++);
}

TEST(cuda_gemm_s8_mma_exact) {
  uint32_t seed = 150;
  for (const Shape& s : gemm_shapes()) run_gemm_s8(s, false, Activation::none, seed++, S8Kernel::mma);
}

// The Hopper kernel, called directly (gemm_s8 uses it only after its self-test): skipped off sm_90.
TEST(cuda_gemm_s8_wgmma) {
  const auto& d = cu::device_info();
  if (d.cc_major != 9 || d.cc_minor != 0) {
    std::printf("  skipped: wgmma needs sm_90 (this is sm_%d%d)\n", d.cc_major, d.cc_minor);
    return;
  }
  const char* env = std::getenv("SPARQ_CUDA_WGMMA");
  if (env && std::strcmp(env, "0") == 0) {
    std::printf("  skipped: SPARQ_CUDA_WGMMA=0 (gpu-check.sh runs this case in its own process)\n");
    return;
  }
  std::printf("  gemm_s8 uses wgmma for large shapes: %s\n", cu::gemm_s8_wgmma_enabled() ? "yes" : "NO (self-test failed)");
  CHECK(cu::gemm_s8_wgmma_enabled());
  uint32_t seed = 170;
  for (const Shape& s : {Shape{1, 1, 1}, Shape{3, 5, 7}, Shape{129, 257, 513}, Shape{256, 128, 128}, Shape{1536, 1536, 192}})
    run_gemm_s8(s, false, Activation::none, seed++, S8Kernel::wgmma);
  run_gemm_s8({200, 300, 400}, true, Activation::gelu, seed++, S8Kernel::wgmma);
}

TEST(cuda_gemm_s8_epilogue) {
  uint32_t seed = 200;
  for (const Shape& s : {Shape{3, 5, 7}, Shape{16, 300, 1000}, Shape{129, 257, 513}})
    for (Activation a : {Activation::none, Activation::relu, Activation::gelu}) run_gemm_s8(s, true, a, seed++);
}

TEST(cuda_gemm_f16) {
  uint32_t seed = 300;
  for (const Shape& s : gemm_shapes()) {
    run_gemm_f16(s, seed % 3 == 0 ? Activation::gelu : Activation::relu, seed);
    ++seed;
  }
}

TEST(cuda_gemm_f32) {
  uint32_t seed = 400;
  for (const Shape& s : gemm_shapes()) {
    run_gemm_f32(s, seed % 2 ? Activation::none : Activation::gelu, seed);
    ++seed;
  }
}

TEST(cuda_gemm_2to4) {
  std::printf("  2:4 metadata layout chosen by the probe: %d\n", cu::sparse24_meta_layout());
  CHECK(cu::sparse24_meta_layout() >= 0);
  if (cu::sparse24_meta_layout() < 0) return;
  uint32_t seed = 500;
  for (const Shape& s : {Shape{1, 1, 1}, Shape{3, 5, 7}, Shape{17, 33, 65}, Shape{130, 129, 200}, Shape{64, 256, 512},
                         Shape{300, 200, 1000}})
    run_2to4(s, false, seed++);
  run_2to4({129, 257, 513}, true, seed++);
}

TEST(cuda_spmm_f16) {
  uint32_t seed = 600;
  for (int block : {1, 4})
    for (const Shape& s : {Shape{1, 1, 1}, Shape{1, 300, 517}, Shape{1, 100, 256}, Shape{5, 77, 1000}, Shape{16, 128, 256},
                           Shape{33, 250, 333}})
      run_spmm(s, block, seed++);
}

// DeviceWeights end to end (host fp32 in and out) against a CPU emulation of the same arithmetic:
// fp16 rounding of x and W, or symmetric int8 quantization (per-row x, per-column W) with exact int32
// products, then the scaled epilogue.
TEST(cuda_device_weights) {
  using F = cu::DeviceFormat;
  uint32_t seed = 700;
  for (F f : {F::f32, F::f16, F::int8, F::sparse_f16, F::block_f16, F::int8_2to4})
    for (Shape s : {Shape{1, 33, 70}, Shape{37, 129, 300}, Shape{130, 64, 128}}) {
      ++seed;
      // W[K][N] (ONNX layout); sparse formats keep ~10%, 2:4 keeps 2 of every 4 k per column.
      auto W = sparq_test::random_vector(s.K * s.N, seed);
      auto mask = sparq_test::random_vector(s.K * s.N, seed + 1, 0.0f, 1.0f);
      for (int64_t k = 0; k < s.K; ++k)
        for (int64_t n = 0; n < s.N; ++n) {
          float& w = W[k * s.N + n];
          if ((f == F::sparse_f16 && mask[k * s.N + n] > 0.1f) || (f == F::block_f16 && mask[(k / 4 * 4) * s.N + n] > 0.1f) ||
              (f == F::int8_2to4 && (k % 4) >= 2))
            w = 0.0f;
        }
      auto x = sparq_test::random_vector(s.M * s.K, seed + 2);
      auto bias = sparq_test::random_vector(s.N, seed + 3);
      cu::DeviceWeights dw(f, W.data(), s.K, s.N, bias.data());
      std::vector<float> y = sparq_test::nan_filled(s.M * s.N);
      dw.matmul(x.data(), s.M, y.data(), Activation::relu);
      std::vector<double> want(s.M * s.N), scale(s.M * s.N);
      const bool q8 = f == F::int8 || f == F::int8_2to4;
      const bool h16 = f == F::f16 || f == F::sparse_f16 || f == F::block_f16;
      std::vector<float> sw(s.N, 1.0f), sx(s.M, 1.0f);
      std::vector<int> wq(s.K * s.N), xq(s.M * s.K);
      if (q8) {
        for (int64_t n = 0; n < s.N; ++n) {
          float amax = 0;
          for (int64_t k = 0; k < s.K; ++k) amax = std::max(amax, std::fabs(W[k * s.N + n]));
          sw[n] = amax > 0 ? amax / 127.0f : 1.0f;
          for (int64_t k = 0; k < s.K; ++k)
            wq[k * s.N + n] = std::max(-127, std::min(127, int(std::nearbyint(W[k * s.N + n] / sw[n]))));
        }
        for (int64_t m = 0; m < s.M; ++m) {
          float amax = 0;
          for (int64_t k = 0; k < s.K; ++k) amax = std::max(amax, std::fabs(x[m * s.K + k]));
          sx[m] = amax > 0 ? amax / 127.0f : 1.0f;
          for (int64_t k = 0; k < s.K; ++k)
            xq[m * s.K + k] = std::max(-127, std::min(127, int(std::nearbyint(x[m * s.K + k] / sx[m]))));
        }
      }
      auto h = [&](float v) { return h16 ? double(cu::half_to_float(cu::float_to_half(v))) : double(v); };
      for (int64_t m = 0; m < s.M; ++m)
        for (int64_t n = 0; n < s.N; ++n) {
          double v, mag;
          if (q8) {
            int64_t acc = 0, amag = 0;
            for (int64_t k = 0; k < s.K; ++k) {
              acc += int64_t(xq[m * s.K + k]) * wq[k * s.N + n];
              amag += std::abs(int64_t(xq[m * s.K + k]) * wq[k * s.N + n]);
            }
            v = double(float(acc)) * double(sx[m] * sw[n]) + bias[n];
            mag = double(amag) * sx[m] * sw[n] + std::fabs(bias[n]) + 1.0;
          } else {
            v = bias[n];
            mag = std::fabs(bias[n]) + 1.0;
            for (int64_t k = 0; k < s.K; ++k) {
              v += h(x[m * s.K + k]) * h(W[k * s.N + n]);
              mag += std::fabs(h(x[m * s.K + k]) * h(W[k * s.N + n]));
            }
          }
          want[m * s.N + n] = act_ref(v, Activation::relu);
          scale[m * s.N + n] = mag;
        }
      const std::string what = std::string("DeviceWeights ") + cu::device_format_name(f);
      check_output(y, s.M, s.N, s.N, want, scale, 1e-5, what.c_str(), s);
    }
}

// The "cuda-*" formats through the packed-weights registry, as kernels.pack() reaches them: every one
// registered, and each agreeing with DeviceWeights used directly (same arithmetic, so exactly), with a
// per-call bias.
TEST(cuda_packed_formats) {
  CHECK(cu::register_formats());
  const auto names = sparq::registered_formats();
  using F = cu::DeviceFormat;
  const int64_t M = 9, K = 200, N = 70;
  auto W = sparq_test::random_vector(K * N, 900);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n)
      if (k % 4 >= 2) W[k * N + n] = 0.0f;  // 2:4 along K (and 50% sparse for the sparse formats)
  auto x = sparq_test::random_vector(M * K, 901);
  auto bias = sparq_test::random_vector(N, 902);
  for (F f : {F::f32, F::f16, F::int8, F::sparse_f16, F::block_f16, F::int8_2to4}) {
    const std::string name = std::string("cuda-") + cu::device_format_name(f);
    CHECK_MSG(std::find(names.begin(), names.end(), name) != names.end(), "%s is not registered", name.c_str());
    auto packed = sparq::pack_weights(name, W.data(), K, N, sparq::PackOptions{});
    CHECK(std::string(packed->format()) == name);
    CHECK(packed->bytes() > 0);
    std::vector<float> got = sparq_test::nan_filled(M * N), want = sparq_test::nan_filled(M * N);
    packed->matmul(x.data(), M, got.data(), {bias.data(), Activation::gelu}, 1);
    cu::DeviceWeights direct(f, W.data(), K, N, bias.data());
    direct.matmul(x.data(), M, want.data(), Activation::gelu);
    CHECK_MSG(std::memcmp(got.data(), want.data(), got.size() * 4) == 0, "%s differs from DeviceWeights", name.c_str());
  }
}

TEST(cuda_bad_arguments) {
  cu::DeviceBuffer a(4096), c(4096);
  cu::GemmS8Args p;
  p.a = a.as<int8_t>(); p.lda = 20;  // not a multiple of 16
  p.b = a.as<int8_t>(); p.ldb = 32;
  p.M = 2; p.N = 2; p.K = 20;
  p.c = c.as<float>(); p.ldc = 2;
  bool threw = false;
  try {
    cu::gemm_s8(p);
  } catch (const sparq::Error& e) {
    threw = e.code() == "ERR_INVALID_ARGUMENT";
  }
  CHECK_MSG(threw, "lda %% 16 != 0 must throw ERR_INVALID_ARGUMENT");
  std::vector<int8_t> dense(64, 3);
  threw = false;
  try {
    cu::upload_2to4_s8(dense.data(), 1, 64);
  } catch (const sparq::Error& e) {
    threw = e.code() == "ERR_INVALID_ARGUMENT";
  }
  CHECK_MSG(threw, "dense weights given as 2:4 must throw ERR_INVALID_ARGUMENT");
}

int main(int argc, char** argv) { return sparq_test::run_cuda_tests(argc, argv); }
