// Op families that live outside the executor's own switch (recurrent layers, indexing, resize, ...)
// define a validator and a runner for their op codes with SPARQ_REGISTER_PLAN_OP, and plan_ops.cpp lists
// them: the executor (executor.cpp) asks that table for any code it does not handle itself. The list is
// explicit because static registrars in a static library are dropped by the linker when nothing else in
// their object file is referenced (Einsum's was).
#pragma once
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "sparq/error.h"
#include "sparq/plan.h"

namespace sparq {

struct PlanOpHandler {
  const char* name = nullptr;
  // Throws sparq::Error(ERR_INVALID_ARGUMENT) when the op's slots or attributes are inconsistent: after
  // it passes, run() must not read or write outside its slots.
  void (*validate)(const PlanOp& op, const std::vector<PlanSlot>& slots) = nullptr;
  void (*run)(const PlanOp& op, const std::vector<PlanSlot>& slots, void* const* ptr, const OpContext& ctx) = nullptr;
};

// The handler registered for `code`, or null.
const PlanOpHandler* plan_op_handler(OpCode code);

// Defines sparq::plan_op_<ident>(), which plan_ops.cpp calls to fill its table (use inside namespace sparq).
#define SPARQ_REGISTER_PLAN_OP(ident, code, handler) \
  std::pair<OpCode, PlanOpHandler> plan_op_##ident() { return {code, handler}; }

// What validators share: slot access by op position with the plan's error message.
class PlanOpCheck {
 public:
  PlanOpCheck(const PlanOp& op, const std::vector<PlanSlot>& slots, const char* name) : op_(op), slots_(slots), name_(name) {}
  Error fail(const std::string& why) const { return invalid_argument("Invalid execution plan: " + std::string(name_) + " op: " + why); }
  // Input counts in [min_in, max_in] (inputs past min_in may be -1: absent), outputs in [min_out, max_out]
  // (past min_out may be -1); every present slot in range, no output an input or a constant.
  void arity(size_t min_in, size_t max_in, size_t min_out, size_t max_out) const;
  bool has(size_t i) const { return i < op_.inputs.size() && op_.inputs[i] >= 0; }
  bool has_out(size_t i) const { return i < op_.outputs.size() && op_.outputs[i] >= 0; }
  const PlanSlot& in(size_t i) const { return slots_[static_cast<size_t>(op_.inputs[i])]; }
  const PlanSlot& out(size_t i) const { return slots_[static_cast<size_t>(op_.outputs[i])]; }
  void dtype(const PlanSlot& s, DType t, const char* what) const {
    if (s.dtype != t) throw fail(std::string(what) + " must be " + dtype_name(t));
  }
  void shape(const PlanSlot& s, const Shape& want, const char* what) const {
    if (s.shape != want) throw fail(std::string(what) + " has shape " + s.shape.str() + ", expected " + want.str());
  }
  int64_t ints(size_t i) const {
    if (i >= op_.ints.size()) throw fail("too few integer attributes");
    return op_.ints[i];
  }

 private:
  const PlanOp& op_;
  const std::vector<PlanSlot>& slots_;
  const char* name_;
};

}  // namespace sparq
