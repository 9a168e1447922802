// Shared by the tests that build execution plans by hand (sparq/plan.h): a slot and an op in one line.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "sparq/plan.h"

namespace sparq_test {

inline sparq::PlanSlot slot(sparq::Shape s, sparq::SlotKind kind, int64_t index, sparq::DType t = sparq::DType::float32) {
  sparq::PlanSlot p;
  p.dtype = t;
  p.shape = s;
  p.kind = kind;
  p.index = index;
  return p;
}

inline sparq::PlanOp op(sparq::OpCode c, std::vector<int32_t> in, std::vector<int32_t> out, std::vector<int64_t> ints = {},
                        std::vector<float> floats = {}) {
  sparq::PlanOp o;
  o.code = c;
  o.inputs = std::move(in);
  o.outputs = std::move(out);
  o.ints = std::move(ints);
  o.floats = std::move(floats);
  return o;
}

}  // namespace sparq_test
