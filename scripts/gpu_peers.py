#!/usr/bin/env python3
"""Times PyTorch's peers of sparq's CUDA kernels on the same shapes, in the same gpu-check run, and
prints the ratios issue #9 asks for. Reads bench_cuda's `RESULT <name> <ms> <TOPS>` lines from the file
given as argv[1]. Peers: torch._int_mm (cuBLASLt int8), torch's 2:4 semi-structured matmul
(cuSPARSELt or CUTLASS, int8 where torch supports it, else fp16), dense fp16 torch.mm."""
import sys

import torch

ours = {}
with open(sys.argv[1]) as f:
    for line in f:
        parts = line.split()
        if len(parts) == 4 and parts[0] == "RESULT":
            ours[parts[1]] = (float(parts[2]), float(parts[3]))
# sparq's dense int8 is whichever of its two kernels is faster here (gemm_s8 picks wgmma on sm_90
# once validated): int8_dense_<S> is that best figure.
for S in (4096, 8192):
    cands = [ours[k] for k in (f"int8_dense_wgmma_{S}", f"int8_dense_mma_sync_{S}") if k in ours]
    if cands:
        ours[f"int8_dense_{S}"] = min(cands)


def time_ms(fn):
    """Median ms per call over 5 batches of ~20 ms, after a warm-up (the same method as bench_cuda)."""
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    a.record(); fn(); b.record(); torch.cuda.synchronize()
    iters = max(1, min(1000, int(20.0 / max(a.elapsed_time(b), 0.001))))
    per = []
    for _ in range(5):
        a.record()
        for _ in range(iters):
            fn()
        b.record()
        torch.cuda.synchronize()
        per.append(a.elapsed_time(b) / iters)
    return sorted(per)[2]


def tops(ms, macs):
    return 2.0 * macs / (ms * 1e-3) / 1e12


def first_line(e):
    text = str(e).strip()
    return (text.splitlines()[0] if text else type(e).__name__)[:160]


def prune_2to4(w):
    """Keeps the 2 largest |w| of every 4 consecutive values along the last dim."""
    g = w.reshape(-1, 4)
    idx = g.abs().float().topk(2, dim=1).indices
    mask = torch.zeros_like(g, dtype=torch.bool).scatter_(1, idx, True)
    return (g * mask).reshape(w.shape)


peers = {}
notes = []
dev = torch.device("cuda")
print(f"torch {torch.__version__} on {torch.cuda.get_device_name(0)}")
for S in (4096, 8192):
    if f"int8_dense_{S}" not in ours:
        continue
    x = torch.randint(-127, 128, (S, S), dtype=torch.int8, device=dev)
    w = torch.randint(-127, 128, (S, S), dtype=torch.int8, device=dev)  # W^T [N][K], like sparq's
    try:
        peers[f"int8_dense_{S}"] = time_ms(lambda: torch._int_mm(x, w.t()))
    except Exception as e:  # noqa: BLE001
        notes.append(f"torch._int_mm {S}: {first_line(e)}")
    # 2:4: sparse operand first (torch's semi-structured supports that order), W^T @ x^T.
    try:
        from torch.sparse import to_sparse_semi_structured
        ws = to_sparse_semi_structured(prune_2to4(w))
        try:
            peers[f"int8_2to4_{S}"] = time_ms(lambda: torch.mm(ws, x.t()))
            notes.append(f"torch 2:4 at {S}: int8, column-major B")
        except Exception:  # noqa: BLE001
            xt = x.t().contiguous()
            peers[f"int8_2to4_{S}"] = time_ms(lambda: torch.mm(ws, xt))
            notes.append(f"torch 2:4 at {S}: int8, row-major B")
    except Exception as e:  # noqa: BLE001
        notes.append(f"torch int8 2:4 at {S} failed ({first_line(e)}); trying fp16")
        try:
            from torch.sparse import to_sparse_semi_structured
            wh = prune_2to4(torch.randn(S, S, dtype=torch.float16, device=dev))
            xh = torch.randn(S, S, dtype=torch.float16, device=dev)
            wsh = to_sparse_semi_structured(wh)
            peers[f"f16_2to4_{S}"] = time_ms(lambda: torch.mm(wsh, xh))
            peers[f"f16_dense_torch_{S}"] = time_ms(lambda: torch.mm(wh, xh))
        except Exception as e2:  # noqa: BLE001
            notes.append(f"torch fp16 2:4 at {S} failed too: {first_line(e2)}")
    del x, w
    torch.cuda.empty_cache()

K = N = 4096
wd = torch.randn(N, K, dtype=torch.float16, device=dev)
for M in (1, 16, 128):
    xh = torch.randn(M, K, dtype=torch.float16, device=dev)
    peers[f"f16_dense_4096_M{M}"] = time_ms(lambda: torch.mm(xh, wd.t()))

print()
print(f"{'shape':<34} {'sparq ms':>10} {'sparq TOPS':>11} {'peer':<22} {'peer ms':>10} {'sparq/peer speed':>17}")
rows = [
    ("int8_dense_4096", "cuBLASLt int8", "int8_dense_4096", 4096**3),
    ("int8_dense_8192", "cuBLASLt int8", "int8_dense_8192", 8192**3),
    ("int8_dense_mma_sync_4096", "cuBLASLt int8", "int8_dense_4096", 4096**3),
    ("int8_dense_mma_sync_8192", "cuBLASLt int8", "int8_dense_8192", 8192**3),
    ("int8_dense_wgmma_4096", "cuBLASLt int8", "int8_dense_4096", 4096**3),
    ("int8_dense_wgmma_8192", "cuBLASLt int8", "int8_dense_8192", 8192**3),
    ("int8_2to4_4096", "torch 2:4 int8", "int8_2to4_4096", 4096**3),
    ("int8_2to4_8192", "torch 2:4 int8", "int8_2to4_8192", 8192**3),
    ("int8_2to4_4096", "cuBLASLt int8 (dense)", "int8_dense_4096", 4096**3),
    ("int8_2to4_8192", "cuBLASLt int8 (dense)", "int8_dense_8192", 8192**3),
    ("f16_dense_4096", "-", None, 4096**3),
    ("f16_dense_8192", "-", None, 8192**3),
]
for M in (1, 16, 128):
    rows.append((f"f16_dense_4096_M{M}", "torch fp16 mm", f"f16_dense_4096_M{M}", M * K * N))
    rows.append((f"spmm90_unstructured_4096_M{M}", "torch fp16 mm (dense)", f"f16_dense_4096_M{M}", M * K * N))
    rows.append((f"spmm90_block1x4_4096_M{M}", "torch fp16 mm (dense)", f"f16_dense_4096_M{M}", M * K * N))
for name, peer_name, peer_key, _macs in rows:
    if name not in ours:
        continue
    ms, t = ours[name]
    if peer_key and peer_key in peers:
        pms = peers[peer_key]
        print(f"{name:<34} {ms:>10.4f} {t:>11.1f} {peer_name:<22} {pms:>10.4f} {pms / ms:>16.2f}x")
    else:
        print(f"{name:<34} {ms:>10.4f} {t:>11.1f} {'-':<22} {'-':>10} {'-':>17}")

print()
print("Targets (issue #9):")


def line(label, value, target):
    if value is None:
        print(f"  {label}: unmeasured")
    else:
        print(f"  {label}: {value:.2f}x (target >= {target}x) {'MET' if value >= target else 'BELOW'}")


def ratio(a, b, src_a=ours, src_b=ours):
    va = src_a.get(a)
    vb = src_b.get(b)
    if va is None or vb is None:
        return None
    ma = va[0] if isinstance(va, tuple) else va
    mb = vb[0] if isinstance(vb, tuple) else vb
    return mb / ma


line("sparq int8 vs cuBLASLt int8 at 8192^3", ratio("int8_dense_8192", "int8_dense_8192", ours, peers), 0.5)
line("  (mma.sync kernel alone) vs cuBLASLt at 8192^3", ratio("int8_dense_mma_sync_8192", "int8_dense_8192", ours, peers), 0.5)
line("  (wgmma kernel alone) vs cuBLASLt at 8192^3", ratio("int8_dense_wgmma_8192", "int8_dense_8192", ours, peers), 0.5)
line("sparq 2:4 vs sparq's best dense int8 at 8192^3", ratio("int8_2to4_8192", "int8_dense_8192"), 1.2)
line("sparq 2:4 vs sparq's best dense int8 at 4096^3", ratio("int8_2to4_4096", "int8_dense_4096"), 1.2)
line("  (2:4 mma.sp vs sparq's mma.sync dense int8, same instruction class) at 8192^3",
     ratio("int8_2to4_8192", "int8_dense_mma_sync_8192"), 1.2)
for M in (1, 16):
    line(f"sparq 90% unstructured SpMM vs sparq dense fp16, M={M}",
         ratio(f"spmm90_unstructured_4096_M{M}", f"f16_dense_4096_M{M}"), 1.5)
for S in (4096, 8192):
    if f"int8_2to4_{S}" in peers and f"int8_dense_{S}" in peers:
        notes.append(f"torch's own 2:4 int8 speedup over cuBLASLt int8 at {S}^3: {peers[f'int8_dense_{S}'] / peers[f'int8_2to4_{S}']:.2f}x")
    if f"f16_2to4_{S}" in peers:
        notes.append(f"torch 2:4 fp16 at {S}^3: {peers[f'f16_2to4_{S}']:.4f} ms vs dense fp16 {peers[f'f16_dense_torch_{S}']:.4f} ms")
for n in notes:
    print("note:", n)
