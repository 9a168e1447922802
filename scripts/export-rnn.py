#!/usr/bin/python3
"""Exports recurrent models from PyTorch (Debian's python3-torch) to ONNX, seeded, for the RNN tests
and the rnn bench: /usr/bin/python3 scripts/export-rnn.py OUT_DIR [NAME...]

Every model takes x (and, where named, initial states) with dynamic sequence and batch axes; its
weights come from torch.manual_seed(<per-model seed>), so the files are the same on every run. A
model already in OUT_DIR is not exported again. Prints one JSON line per model: name, file, input
shapes and whether x is batch-first.
"""
import json
import os
import sys

import torch
from torch import nn


class Stack(nn.Module):
    """A recurrent layer, optionally fed initial states, followed by a linear head on its output
    sequence (as a classifier or a VAD does), so Y, Y_h and the head all reach the outputs."""

    def __init__(self, cell, inp, hidden, layers, bidirectional, batch_first, with_state):
        super().__init__()
        kind = {'lstm': nn.LSTM, 'gru': nn.GRU, 'rnn_tanh': nn.RNN, 'rnn_relu': nn.RNN}[cell]
        extra = {'nonlinearity': 'relu'} if cell == 'rnn_relu' else {}
        self.rnn = kind(inp, hidden, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first, **extra)
        self.head = nn.Linear(hidden * (2 if bidirectional else 1), 8)
        self.cell = cell
        self.with_state = with_state

    def forward(self, x, *state):
        if self.with_state:
            y, h = self.rnn(x, state if self.cell == 'lstm' else state[0])
        else:
            y, h = self.rnn(x)
        hn = h[0] if self.cell == 'lstm' else h
        return (self.head(y), hn) + ((h[1],) if self.cell == 'lstm' else ())


# name: (cell, input, hidden, layers, bidirectional, batch_first, initial states given, seq, batch, seed)
MODELS = {
    'lstm': ('lstm', 12, 24, 1, False, False, False, 9, 3, 1),
    'lstm_bi2': ('lstm', 12, 20, 2, True, True, True, 7, 2, 2),
    'gru': ('gru', 10, 16, 1, False, False, True, 8, 2, 3),
    'gru_bi2': ('gru', 10, 18, 2, True, False, False, 6, 3, 4),
    'rnn_relu_bi': ('rnn_relu', 6, 10, 1, True, True, False, 5, 2, 5),
    # bench sizes: speech-frame features into a 2-layer stack, batch 1
    'lstm_bench': ('lstm', 80, 256, 2, False, False, False, 100, 1, 6),
    'gru_bench': ('gru', 80, 256, 2, False, False, False, 100, 1, 7),
    'lstm_bi_bench': ('lstm', 64, 128, 1, True, True, False, 50, 4, 8),
}


def export(name, out_dir):
    cell, inp, hidden, layers, bi, batch_first, with_state, seq, batch, seed = MODELS[name]
    path = os.path.join(out_dir, name + '.onnx')
    torch.manual_seed(seed)
    model = Stack(cell, inp, hidden, layers, bi, batch_first, with_state).eval()
    x = torch.randn(*((batch, seq, inp) if batch_first else (seq, batch, inp)))
    dirs = 2 if bi else 1
    states = [torch.randn(layers * dirs, batch, hidden) for _ in range(2 if cell == 'lstm' else 1)] if with_state else []
    in_names = ['x'] + (['h0', 'c0'][: len(states)])
    out_names = ['y', 'h_n'] + (['c_n'] if cell == 'lstm' else [])
    axes = {'x': {0: 'batch', 1: 'seq'} if batch_first else {0: 'seq', 1: 'batch'}}
    for n in in_names[1:]:
        axes[n] = {1: 'batch'}
    if not os.path.exists(path):
        tmp = path + '.tmp'
        with torch.no_grad():
            torch.onnx.export(model, (x, *states), tmp, input_names=in_names, output_names=out_names,
                              dynamic_axes=axes, opset_version=14)
        os.replace(tmp, path)
    shapes = {n: list(t.shape) for n, t in zip(in_names, [x, *states])}
    print(json.dumps({'name': name, 'file': path, 'inputs': shapes, 'batchFirst': batch_first}))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    names = sys.argv[2:] or [n for n in MODELS if not n.endswith('_bench')]
    for n in names:
        if n not in MODELS:
            sys.exit('unknown model ' + n + '; known: ' + ', '.join(MODELS))
        export(n, out_dir)


if __name__ == '__main__':
    main()
