// The table of op handlers registered outside the executor (sparq/plan_ops.h).
#include "sparq/plan_ops.h"

#include <map>

namespace sparq {

// Every handler defined with SPARQ_REGISTER_PLAN_OP, by the file that defines it.
std::pair<OpCode, PlanOpHandler> plan_op_lstm();              // ops_rnn_plan.cpp
std::pair<OpCode, PlanOpHandler> plan_op_gru();
std::pair<OpCode, PlanOpHandler> plan_op_rnn();
std::pair<OpCode, PlanOpHandler> plan_op_gather_elements();   // ops_gather.cpp
std::pair<OpCode, PlanOpHandler> plan_op_gather_nd();
std::pair<OpCode, PlanOpHandler> plan_op_scatter_elements();  // ops_scatter.cpp
std::pair<OpCode, PlanOpHandler> plan_op_scatter_nd();
std::pair<OpCode, PlanOpHandler> plan_op_resize();            // ops_resize.cpp
std::pair<OpCode, PlanOpHandler> plan_op_depth_to_space();    // ops_resize_space_depth.cpp
std::pair<OpCode, PlanOpHandler> plan_op_space_to_depth();
std::pair<OpCode, PlanOpHandler> plan_op_einsum();            // ops_einsum.cpp
std::pair<OpCode, PlanOpHandler> plan_op_kv_store();          // kv_cache.cpp
std::pair<OpCode, PlanOpHandler> plan_op_cache_attention();   // ops_attention.cpp

namespace {
const std::map<int32_t, PlanOpHandler>& table() {
  static const std::map<int32_t, PlanOpHandler> t = [] {
    std::map<int32_t, PlanOpHandler> m;
    for (auto entry : {plan_op_lstm(), plan_op_gru(), plan_op_rnn(), plan_op_gather_elements(), plan_op_gather_nd(),
                       plan_op_scatter_elements(), plan_op_scatter_nd(), plan_op_resize(), plan_op_depth_to_space(),
                       plan_op_space_to_depth(), plan_op_einsum(), plan_op_kv_store(), plan_op_cache_attention()})
      m[static_cast<int32_t>(entry.first)] = entry.second;
    return m;
  }();
  return t;
}
}  // namespace

const PlanOpHandler* plan_op_handler(OpCode code) {
  const auto& t = table();
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
