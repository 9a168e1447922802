#!/usr/bin/python3
"""Exports CNNs from Debian's python3-torchvision to ONNX for sparq's conv tests and bench.

Weights are random (torch.manual_seed): nothing is downloaded. BatchNorm statistics are randomised
too (running mean/var, affine), so folding them into the convs is exercised with non-trivial values.

  /usr/bin/python3 scripts/export-cnn.py OUT_DIR [resnet18 mobilenet_v2 tiny ...]

Writes OUT_DIR/<name>.onnx (input "input", 1x3xHxW; output "output"); an existing file is kept.
'tiny' is a small ResNet/MobileNet-like net on 1x3x32x32 (3x3 and 1x1 convs, stride 2, a depthwise
block with Relu6, a residual Add, max and global average pooling, a Linear head): fast enough for a test.
"""
import os
import sys

import torch
import torch.nn as nn


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        self.block = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
                                   nn.Conv2d(16, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16))
        self.expand = nn.Sequential(nn.Conv2d(16, 48, 1, bias=False), nn.BatchNorm2d(48), nn.ReLU6())
        self.dw = nn.Sequential(nn.Conv2d(48, 48, 3, stride=2, padding=1, groups=48, bias=False), nn.BatchNorm2d(48), nn.ReLU6())
        self.project = nn.Sequential(nn.Conv2d(48, 24, 1, bias=False), nn.BatchNorm2d(24))
        self.grouped = nn.Conv2d(24, 24, 3, padding=2, dilation=2, groups=2)
        self.head = nn.Linear(24, 10)

    def forward(self, x):
        x = self.pool(self.stem(x))
        x = torch.relu(self.block(x) + x)
        x = self.project(self.dw(self.expand(x)))
        x = x + self.grouped(x)
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
        return self.head(x)


def build(name):
    import torchvision.models as tvm
    if name == 'tiny':
        return Tiny(), 32
    if name == 'resnet18':
        return tvm.resnet18(), 224
    if name == 'mobilenet_v2':
        return tvm.mobilenet_v2(), 224
    raise SystemExit(f'unknown model {name!r} (resnet18, mobilenet_v2, tiny)')


def randomise_batchnorm(model):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    out_dir = sys.argv[1]
    names = sys.argv[2:] or ['tiny']
    os.makedirs(out_dir, exist_ok=True)
    for name in names:
        path = os.path.join(out_dir, f'{name}.onnx')
        if os.path.exists(path):
            continue
        torch.manual_seed(0)
        model, size = build(name)
        randomise_batchnorm(model)
        model.eval()
        x = torch.randn(1, 3, size, size)
        tmp = path + '.tmp'
        torch.onnx.export(model, x, tmp, input_names=['input'], output_names=['output'], opset_version=13,
                          do_constant_folding=True)
        os.replace(tmp, path)
        print(path)


if __name__ == '__main__':
    main()
