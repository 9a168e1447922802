#!/usr/bin/python3
"""Integrated gradients of an MLP in PyTorch, the reference test/explain-ig.test.ts compares sparq's with.

Usage: ig-reference.py DIR
DIR/manifest.json: {"layers": [{"weight": "fc1.weight.npy", "bias": "fc1.bias.npy", "activation": "relu"}, ...],
                    "input": "x.npy", "baseline": "b.npy", "target": 3, "steps": 50, "method": "gausslegendre"}
Weights are [K, N] (ONNX MatMul layout): y = x @ W + b. Writes DIR/attributions.npy (float32, the input's
shape) and DIR/result.json ({"delta": ..., "f_input": ..., "f_baseline": ...}).

The path points are Captum's (captum/attr/_utils/approximation_methods.py): Gauss-Legendre nodes from
numpy's leggauss mapped to [0, 1], or the Riemann rules; the gradients come from torch.autograd over one
batch of all the points, in float64 so the reference itself adds no rounding.
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch


def path_rule(method, n):
    if method == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(n)
        return 0.5 * (1 + nodes), 0.5 * weights
    if method == "riemann_trapezoid":
        return np.linspace(0, 1, n), np.array([0.5] + [1.0] * (n - 2) + [0.5]) / (n - 1)
    offset = {"riemann_left": 0.0, "riemann_right": 1.0, "riemann_middle": 0.5}[method]
    return (np.arange(n) + offset) / n, np.full(n, 1.0 / n)


ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "none": lambda t: t}


def main(directory):
    d = Path(directory)
    m = json.loads((d / "manifest.json").read_text())
    layers = [
        (torch.from_numpy(np.load(d / l["weight"]).astype(np.float64)), torch.from_numpy(np.load(d / l["bias"]).astype(np.float64)), ACTIVATIONS[l.get("activation", "none")])
        for l in m["layers"]
    ]

    def f(x):
        for w, b, act in layers:
            x = act(x @ w + b)
        return x

    x_np = np.load(d / m["input"])
    shape = x_np.shape
    x = torch.from_numpy(x_np.astype(np.float64)).reshape(1, -1)
    base = torch.from_numpy(np.load(d / m["baseline"]).astype(np.float64)).reshape(1, -1)
    alphas, weights = path_rule(m.get("method", "gausslegendre"), int(m["steps"]))
    a = torch.from_numpy(alphas).reshape(-1, 1)
    points = (base + a * (x - base)).requires_grad_(True)
    out = f(points)[:, int(m["target"])]
    (grads,) = torch.autograd.grad(out.sum(), points)
    total = (torch.from_numpy(weights).reshape(-1, 1) * grads).sum(0, keepdim=True)
    attributions = (x - base) * total
    with torch.no_grad():
        fx = f(x)[0, int(m["target"])].item()
        fb = f(base)[0, int(m["target"])].item()
    np.save(d / "attributions.npy", attributions.numpy().astype(np.float32).reshape(shape))
    (d / "result.json").write_text(json.dumps({"delta": attributions.sum().item() - (fx - fb), "f_input": fx, "f_baseline": fb}))


if __name__ == "__main__":
    main(sys.argv[1])
