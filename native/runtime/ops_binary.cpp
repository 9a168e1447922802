// Broadcasting element-wise drivers: binary arithmetic and comparisons (every dtype ops.h lists),
// Where and Expand. Float arithmetic runs on the ISA table's inner loop; the rest on typed loops here.
#include <cstring>
#include <string>
#include <type_traits>

#include "ops_broadcast.h"
#include "sparq/error.h"
#include "sparq/ops.h"
#include "sparq/ops_kernels.h"

namespace sparq {
namespace {

using detail::Broadcast;

[[noreturn]] void unsupported(const char* op, DType t) {
  throw Error("ERR_UNSUPPORTED_DTYPE", std::string(op) + " does not support " + dtype_name(t) + " tensors");
}

// out[i] = f(a[i*sa], b[i*sb]) with the stride pattern hoisted so each case vectorises.
template <typename T, typename R, typename F>
void zip(const T* a, int64_t sa, const T* b, int64_t sb, R* out, int64_t n, F f) {
  if (sa && sb)
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], b[i]);
  else if (sa) {
    const T q = b[0];
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], q);
  } else if (sb) {
    const T p = a[0];
    for (int64_t i = 0; i < n; ++i) out[i] = f(p, b[i]);
  } else {
    const R v = f(a[0], b[0]);
    for (int64_t i = 0; i < n; ++i) out[i] = v;
  }
}

template <typename T, typename R, typename F>
void run(const Broadcast& bc, int64_t total, const T* a, const T* b, R* out, int threads, F f) {
  detail::parallel_elements(total, threads, 1.0, [&](int64_t e0, int64_t e1) {
    detail::for_runs(bc, e0, e1, [&](const int64_t* offs, const int64_t* st, int64_t o, int64_t len) {
      zip(a + offs[0], st[0], b + offs[1], st[1], out + o, len, f);
    });
  });
}

template <typename T>
void compare(BinaryOp op, const Broadcast& bc, int64_t total, const void* a, const void* b, void* out, int threads) {
  const T* pa = static_cast<const T*>(a);
  const T* pb = static_cast<const T*>(b);
  uint8_t* po = static_cast<uint8_t*>(out);
  switch (op) {
    case BinaryOp::equal: return run(bc, total, pa, pb, po, threads, [](T p, T q) -> uint8_t { return p == q; });
    case BinaryOp::less: return run(bc, total, pa, pb, po, threads, [](T p, T q) -> uint8_t { return p < q; });
    case BinaryOp::greater: return run(bc, total, pa, pb, po, threads, [](T p, T q) -> uint8_t { return p > q; });
    case BinaryOp::less_equal: return run(bc, total, pa, pb, po, threads, [](T p, T q) -> uint8_t { return p <= q; });
    default: return run(bc, total, pa, pb, po, threads, [](T p, T q) -> uint8_t { return p >= q; });
  }
}

// Integer arithmetic in the unsigned type so overflow wraps instead of being UB.
template <typename T>
void integer_arith(BinaryOp op, const Broadcast& bc, int64_t total, const void* a, const void* b, int64_t b_count,
                   void* out, int threads) {
  using U = std::make_unsigned_t<T>;
  const T* pa = static_cast<const T*>(a);
  const T* pb = static_cast<const T*>(b);
  T* po = static_cast<T*>(out);
  switch (op) {
    case BinaryOp::add: return run(bc, total, pa, pb, po, threads, [](T p, T q) { return static_cast<T>(static_cast<U>(p) + static_cast<U>(q)); });
    case BinaryOp::sub: return run(bc, total, pa, pb, po, threads, [](T p, T q) { return static_cast<T>(static_cast<U>(p) - static_cast<U>(q)); });
    case BinaryOp::mul: return run(bc, total, pa, pb, po, threads, [](T p, T q) { return static_cast<T>(static_cast<U>(p) * static_cast<U>(q)); });
    case BinaryOp::max: return run(bc, total, pa, pb, po, threads, [](T p, T q) { return p > q ? p : q; });
    case BinaryOp::min: return run(bc, total, pa, pb, po, threads, [](T p, T q) { return p < q ? p : q; });
    case BinaryOp::div:
      for (int64_t i = 0; i < b_count; ++i)
        if (pb[i] == 0) throw Error("ERR_DIVISION_BY_ZERO", "Integer division by zero in Div");
      return run(bc, total, pa, pb, po, threads, [](T p, T q) {
        return q == -1 ? static_cast<T>(U(0) - static_cast<U>(p)) : static_cast<T>(p / q);
      });
    default: unsupported("Pow", std::is_same<T, int64_t>::value ? DType::int64 : DType::int32);
  }
}

template <typename T>
void where_typed(const Broadcast& bc, int64_t total, const uint8_t* c, const T* x, const T* y, T* out, int threads) {
  detail::parallel_elements(total, threads, 1.0, [&](int64_t e0, int64_t e1) {
    detail::for_runs(bc, e0, e1, [&](const int64_t* offs, const int64_t* st, int64_t o, int64_t len) {
      const uint8_t* pc = c + offs[0];
      const T* px = x + offs[1];
      const T* py = y + offs[2];
      T* po = out + o;
      const int64_t sc = st[0], sx = st[1], sy = st[2];
      for (int64_t i = 0; i < len; ++i) po[i] = pc[i * sc] ? px[i * sx] : py[i * sy];
    });
  });
}

}  // namespace

bool binary_is_comparison(BinaryOp op) {
  return op == BinaryOp::equal || op == BinaryOp::less || op == BinaryOp::greater || op == BinaryOp::less_equal ||
         op == BinaryOp::greater_equal;
}

void binary(BinaryOp op, DType dtype, const void* a, const Shape& a_shape, const void* b, const Shape& b_shape,
            void* out, const OpContext& ctx) {
  if (static_cast<int32_t>(op) < 0 || static_cast<int32_t>(op) > static_cast<int32_t>(BinaryOp::greater_equal))
    throw invalid_argument("Unknown binary op " + std::to_string(static_cast<int32_t>(op)));
  const Shape out_shape = broadcast_shapes(a_shape, b_shape);
  const int64_t total = out_shape.numel();
  const Shape ins[2] = {a_shape, b_shape};
  const Broadcast bc = detail::make_broadcast(out_shape, ins, 2);
  const bool cmp = binary_is_comparison(op);
  switch (dtype) {
    case DType::float32:
      if (cmp) return compare<float>(op, bc, total, a, b, out, ctx.threads);
      {
        const OpsKernels& k = ops_kernels(ctx.isa);
        const float* pa = static_cast<const float*>(a);
        const float* pb = static_cast<const float*>(b);
        float* po = static_cast<float*>(out);
        const double cost = op == BinaryOp::pow ? 20.0 : 1.0;
        detail::parallel_elements(total, ctx.threads, cost, [&](int64_t e0, int64_t e1) {
          detail::for_runs(bc, e0, e1, [&](const int64_t* offs, const int64_t* st, int64_t o, int64_t len) {
            k.binary_f32(op, pa + offs[0], st[0], pb + offs[1], st[1], po + o, len);
          });
        });
      }
      return;
    case DType::int64:
      if (cmp) return compare<int64_t>(op, bc, total, a, b, out, ctx.threads);
      return integer_arith<int64_t>(op, bc, total, a, b, b_shape.numel(), out, ctx.threads);
    case DType::int32:
      if (cmp) return compare<int32_t>(op, bc, total, a, b, out, ctx.threads);
      return integer_arith<int32_t>(op, bc, total, a, b, b_shape.numel(), out, ctx.threads);
    case DType::uint8:
    case DType::int8:
    case DType::boolean:
      if (op == BinaryOp::equal) return compare<uint8_t>(op, bc, total, a, b, out, ctx.threads);
      unsupported("This binary op", dtype);
    default:
      break;  // other dtypes: binary_ext (ops_ext.h)
  }
  unsupported("Binary ops", dtype);
}

Shape where_output_shape(const Shape& c, const Shape& x, const Shape& y) {
  return broadcast_shapes(broadcast_shapes(c, x), y);
}

void where(DType dtype, const uint8_t* cond, const Shape& c_shape, const void* x, const Shape& x_shape, const void* y,
           const Shape& y_shape, void* out, const OpContext& ctx) {
  const Shape out_shape = where_output_shape(c_shape, x_shape, y_shape);
  const Shape ins[3] = {c_shape, x_shape, y_shape};
  const Broadcast bc = detail::make_broadcast(out_shape, ins, 3);
  const int64_t total = out_shape.numel();
  switch (dtype_size(dtype)) {
    case 1:
      return where_typed(bc, total, cond, static_cast<const uint8_t*>(x), static_cast<const uint8_t*>(y),
                         static_cast<uint8_t*>(out), ctx.threads);
    case 2:
      return where_typed(bc, total, cond, static_cast<const uint16_t*>(x), static_cast<const uint16_t*>(y),
                         static_cast<uint16_t*>(out), ctx.threads);
    case 4:
      return where_typed(bc, total, cond, static_cast<const uint32_t*>(x), static_cast<const uint32_t*>(y),
                         static_cast<uint32_t*>(out), ctx.threads);
    default:
      return where_typed(bc, total, cond, static_cast<const uint64_t*>(x), static_cast<const uint64_t*>(y),
                         static_cast<uint64_t*>(out), ctx.threads);
  }
}

void expand(DType dtype, const void* x, const Shape& x_shape, void* out, const Shape& out_shape, const OpContext& ctx) {
  if (!broadcasts_to(x_shape, out_shape))
    throw Error("ERR_SHAPE_MISMATCH", "Expand: " + x_shape.str() + " does not broadcast to " + out_shape.str());
  const size_t es = dtype_size(dtype);
  const Broadcast bc = detail::make_broadcast(out_shape, &x_shape, 1);
  const auto* src = static_cast<const uint8_t*>(x);
  auto* dst = static_cast<uint8_t*>(out);
  detail::parallel_elements(out_shape.numel(), ctx.threads, 1.0, [&](int64_t e0, int64_t e1) {
    detail::for_runs(bc, e0, e1, [&](const int64_t* offs, const int64_t* st, int64_t o, int64_t len) {
      const uint8_t* s = src + offs[0] * es;
      uint8_t* d = dst + o * es;
      if (st[0]) {
        std::memcpy(d, s, es * static_cast<size_t>(len));
      } else {
        for (int64_t i = 0; i < len; ++i) std::memcpy(d + i * es, s, es);
      }
    });
  });
}

}  // namespace sparq
