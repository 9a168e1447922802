// Recurrent layers as ONNX defines them (LSTM, GRU, RNN; opsets 7-22): forward, reverse and
// bidirectional, initial states, sequence lengths, peepholes, the activations attributes, clip and
// the opset-14 `layout`. All float32.
//
// Shapes (layout 0 / layout 1), D = directions, G = gates (LSTM 4: i o f c, GRU 3: z r h, RNN 1):
//   X [seq, batch, input] / [batch, seq, input]     W [D, G·H, input]   R [D, G·H, H]   B [D, 2·G·H]
//   sequence_lens [batch] (int32)   initial_h, initial_c, Y_h, Y_c [D, batch, H] / [batch, D, H]
//   P [D, 3·H] (LSTM peepholes i o f)   Y [seq, D, batch, H] / [batch, seq, D, H]
// Steps past a row's sequence length leave zeros in Y; Y_h / Y_c hold the state after the row's last
// step (zeros when its length is 0, as onnxruntime gives).
//
// rnn_reference is the scalar oracle (plain loops over the raw W and R). rnn_forward is what the
// executor runs: the input projection of the whole sequence is one GEMM of M = seq·batch rows (on
// packed weights when the model's W is constant, else sgemm), then per step one GEMM of the hidden
// state against R (packed, or sgemm) and vectorised gate math.
#pragma once
#include <cstdint>

#include "sparq/ops.h"
#include "sparq/packed.h"

namespace sparq {

enum class RnnCell : int32_t { lstm = 0, gru = 1, rnn = 2 };

// ONNX's activation names for recurrent ops, in this order (the plan passes the index).
enum class RnnActivation : int32_t {
  relu = 0, tanh, sigmoid, affine, leaky_relu, thresholded_relu, scaled_tanh, hard_sigmoid, elu, softsign, softplus
};
constexpr int kRnnActivationCount = 11;

struct RnnAct {
  RnnActivation kind = RnnActivation::tanh;
  float alpha = 0.0f, beta = 0.0f;
};

// The activations a cell takes per direction: LSTM f g h, GRU f g, RNN f.
int rnn_activations_per_direction(RnnCell cell);
int rnn_gate_count(RnnCell cell);
// The ONNX default of activation `i` (per direction) of a cell, with its default alpha/beta.
RnnAct rnn_default_activation(RnnCell cell, int i);
// Applies one activation to n values in place (vectorised for tanh, sigmoid, relu).
void rnn_activate(const RnnAct& act, float* x, int64_t n);

struct RnnParams {
  RnnCell cell = RnnCell::lstm;
  int64_t seq = 0, batch = 0, input = 0, hidden = 0;
  int directions = 1;   // 1 or 2
  bool reverse = false;  // directions == 1: the one direction runs backwards
  int layout = 0;        // 0: [seq, batch, ...], 1: [batch, seq, ...]
  bool linear_before_reset = false;  // GRU
  bool input_forget = false;         // LSTM: f = 1 - i
  float clip = 0.0f;                 // > 0: every activation's input is clamped to [-clip, clip]
  RnnAct acts[6];                    // per direction, rnn_activations_per_direction(cell) each
};

struct RnnTensors {
  const float* X = nullptr;
  const float* W = nullptr;          // raw weights: rnn_reference always, rnn_forward when not packed
  const float* R = nullptr;
  const float* B = nullptr;          // optional
  const int32_t* seq_lens = nullptr;  // optional
  const float* initial_h = nullptr;  // optional
  const float* initial_c = nullptr;  // optional (LSTM)
  const float* P = nullptr;          // optional (LSTM)
  float* Y = nullptr;                // each output optional
  float* Y_h = nullptr;
  float* Y_c = nullptr;
};

// Weights packed for rnn_forward (sparq/packed.h, any format): W as [input, D·G·H] (Wᵀ of every
// direction side by side) and per direction R_dᵀ as [H, G·H], except for a GRU with
// linear_before_reset = 0, whose R_d is split in Rzr_dᵀ [H, 2·H] and Rh_dᵀ [H, H] (its candidate gate
// multiplies r ⊙ H, known only after the first product).
struct RnnPacked {
  const PackedWeights* W = nullptr;
  const PackedWeights* R[2] = {nullptr, nullptr};
  const PackedWeights* Rh[2] = {nullptr, nullptr};
};

// Checks the params (sizes >= 0, directions, activations) and the sequence lengths (each in
// [0, seq]); throws ERR_INVALID_ARGUMENT before anything is written.
void rnn_check(const RnnParams& p, const int32_t* seq_lens);

void rnn_reference(const RnnParams& p, const RnnTensors& t);

// `packed` null: W and R are read raw. Otherwise every matrix of RnnPacked the cell needs must be set
// with the K and N stated above (the executor validates them), and t.W / t.R are not read.
void rnn_forward(const RnnParams& p, const RnnTensors& t, const RnnPacked* packed, const OpContext& ctx = {});

}  // namespace sparq
