#!/usr/bin/env python3
"""Writes ONNX's backend node test cases (model.onnx + test_data_set_*/{input,output}_*.pb) to a directory.

Run with Debian's python3-onnx (1.12): /usr/bin/python3 scripts/onnx-conformance/generate.py <out-dir>.
Its case generators were written against NumPy < 1.24 and still use the removed aliases (np.bool,
np.object, ...); they are set back before the generators are imported. Only the node cases are written
(the 'real' model cases download weights). A stamp file records the onnx version, so a cache directory
is regenerated only when the package changes.
"""
import json
import os
import shutil
import sys

import numpy as np

for alias, target in (('bool', bool), ('object', object), ('float', float), ('int', int), ('str', str), ('complex', complex)):
    if alias not in np.__dict__:
        setattr(np, alias, target)

import onnx  # noqa: E402
import onnx.backend.test.case.node as node_test  # noqa: E402
from onnx import numpy_helper  # noqa: E402


def main() -> int:
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.expanduser('~'), '.cache', 'sparq', 'onnx-node-tests')
    stamp = os.path.join(out, 'STAMP')
    want = f'onnx {onnx.__version__} numpy {np.__version__}\n'
    if os.path.exists(stamp) and open(stamp).read() == want:
        print(out)
        return 0
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    # The op each case tests (an '_expanded' case is the same op written as its function body).
    op_of = {}
    expect = node_test.expect

    def recording_expect(node, inputs, outputs, name, **kwargs):
        op_of[name] = op_of[name + '_expanded'] = node.op_type
        return expect(node, inputs, outputs, name, **kwargs)

    node_test.expect = recording_expect  # the case modules import it when collected below
    count = 0
    ops = {}
    for case in node_test.collect_testcases(None):
        if case.kind != 'node' or not case.model or not case.data_sets:
            continue
        graph = case.model.graph
        # Only tensor-typed cases: sequences, maps and optionals are outside sparq's Tensor API.
        if not all(v.type.HasField('tensor_type') for v in list(graph.input) + list(graph.output)):
            continue
        case_dir = os.path.join(out, case.name)
        if os.path.exists(case_dir):  # a few generators emit a name twice; the last one wins, as in onnx's own tool
            shutil.rmtree(case_dir)
            count -= 1
        os.makedirs(case_dir)
        with open(os.path.join(case_dir, 'model.onnx'), 'wb') as f:
            f.write(case.model.SerializeToString())
        for i, (inputs, outputs) in enumerate(case.data_sets):
            ds = os.path.join(case_dir, f'test_data_set_{i}')
            os.makedirs(ds)
            for kind, values, decls in (('input', inputs, graph.input), ('output', outputs, graph.output)):
                for j, value in enumerate(values):
                    with open(os.path.join(ds, f'{kind}_{j}.pb'), 'wb') as f:
                        f.write(numpy_helper.from_array(np.asarray(value), decls[j].name).SerializeToString())
        ops[case.name] = op_of.get(case.name, '?')
        count += 1
    with open(os.path.join(out, 'ops.json'), 'w') as f:
        json.dump(ops, f, indent=0, sort_keys=True)
    with open(stamp, 'w') as f:
        f.write(want)
    print(out, file=sys.stdout)
    print(f'{count} cases', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
