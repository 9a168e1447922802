// The table of op handlers registered outside the executor (sparq/plan_ops.h).
#include "sparq/plan_ops.h"

#include <map>

namespace sparq {

namespace {
// Function-local: registrars run during static initialisation, in any order across files.
std::map<int32_t, PlanOpHandler>& table() {
  static std::map<int32_t, PlanOpHandler> t;
  return t;
}
}  // namespace

void register_plan_op(OpCode code, const PlanOpHandler& handler) { table()[static_cast<int32_t>(code)] = handler; }

const PlanOpHandler* plan_op_handler(OpCode code) {
  auto& t = table();
  auto it = t.find(static_cast<int32_t>(code));
  return it == t.end() ? nullptr : &it->second;
}

void PlanOpCheck::arity(size_t min_in, size_t max_in, size_t min_out, size_t max_out) const {
  const size_t n = slots_.size();
  if (op_.inputs.size() < min_in || op_.inputs.size() > max_in) throw fail("wrong number of inputs");
  if (op_.outputs.size() < min_out || op_.outputs.size() > max_out) throw fail("wrong number of outputs");
  for (size_t i = 0; i < op_.inputs.size(); ++i) {
    const int32_t s = op_.inputs[i];
    if (s == -1 && i >= min_in) continue;
    if (s < 0 || static_cast<size_t>(s) >= n) throw fail("input slot out of range");
  }
  for (size_t i = 0; i < op_.outputs.size(); ++i) {
    const int32_t s = op_.outputs[i];
    if (s == -1 && i >= min_out) continue;
    if (s < 0 || static_cast<size_t>(s) >= n) throw fail("output slot out of range");
    const SlotKind k = slots_[static_cast<size_t>(s)].kind;
    if (k == SlotKind::input || k == SlotKind::constant) throw fail("writes to an input or a constant");
  }
}

}  // namespace sparq
