#!/usr/bin/env bash
# One prepared check for a GPU host (CUDA, CMake, Python with PyTorch; no Node needed):
#   1. configure + build the CUDA kernels, test_cuda and bench_cuda with CMake
#   2. run test_cuda (every CUDA kernel against the CPU reference) and test_cuda_session (a session's
#      linear chain on one CUDA stream through the plan executor, against the same plan on the CPU)
#   3. run bench_cuda (int8 GEMM 4096^3 / 8192^3, 2:4, dense fp16, 90% SpMM on 4096^2 at M = 1/16/128)
#   4. where `import torch` works, time torch._int_mm (cuBLASLt) and torch's 2:4 semi-structured matmul
#      on the same shapes in the same run, and print the ratios against issue #9's targets.
# Each step has its own timeout; the whole script stays under 5 minutes. Output also goes to
# $BUILD/gpu-check.txt (and $OUT/gpu-check.txt when $OUT is set, e.g. on the device tool).
#   scripts/gpu-check.sh [--quick]     --quick: skip the 8192^3 shapes
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${SPARQ_GPU_BUILD:-build-gpu}
QUICK=${1:-}
mkdir -p "$BUILD"
LOG="$BUILD/gpu-check.txt"
: > "$LOG"
say() { printf '%s\n' "$*" | tee -a "$LOG"; }
step() { say ""; say "=== $* ($(date +%T)) ==="; }
status=0
# Every step gets its own timeout, capped by what is left of a 290-second budget for the whole script.
START=$(date +%s)
budget() {
  local left=$((290 - ($(date +%s) - START)))
  [ "$left" -lt 1 ] && left=1   # (timeout 0 would mean no limit)
  [ "$left" -lt "$1" ] && echo "$left" || echo "$1"
}

step "GPU"
if command -v nvidia-smi >/dev/null; then nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv 2>&1 | tee -a "$LOG"; fi
# On a Hopper host, build only sm_90a (wgmma-capable) to keep the compile short; elsewhere the default list.
CAP=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')
GENCODE=()
if [ "$CAP" = "90" ]; then GENCODE=(-DSPARQ_CUDA_GENCODE=-gencode=arch=compute_90a,code=sm_90a); fi
GEN=()
if command -v ninja >/dev/null && [ ! -f "$BUILD/CMakeCache.txt" ]; then GEN=(-G Ninja); fi

step "configure + build (CMake, SPARQ_CUDA=ON)"
JOBS=$(nproc 2>/dev/null || echo 4)
if ! timeout "$(budget 60)" cmake -S . -B "$BUILD" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release -DSPARQ_CUDA=ON -DSPARQ_BUILD_TESTS=ON "${GENCODE[@]}" >>"$LOG" 2>&1; then
  say "configure FAILED (see $LOG)"; tail -30 "$LOG"; exit 1
fi
if ! timeout "$(budget 180)" cmake --build "$BUILD" -j "$JOBS" --target test_cuda test_cuda_session bench_cuda >>"$LOG" 2>&1; then
  say "build FAILED or timed out"; grep -E "error|Error" "$LOG" | head -30; exit 1
fi
say "built $BUILD/test_cuda, $BUILD/test_cuda_session and $BUILD/bench_cuda"

step "SASS: which tensor-core instructions the kernels compiled to"
if command -v cuobjdump >/dev/null; then
  timeout "$(budget 30)" cuobjdump --dump-sass "$BUILD/test_cuda" > "$BUILD/sass.txt" 2>&1
  for op in IGMMA HGMMA IMMA HMMA; do say "  $op instructions: $(grep -c "$op" "$BUILD/sass.txt")"; done
  say "  (IGMMA = wgmma int8 (sm_90a), IMMA = mma.sync / mma.sp int8, HMMA = fp16 mma.sync)"
else
  say "cuobjdump not found: SASS not inspected"
fi

# Every test case runs in a process of its own, so a kernel that faults (and poisons its CUDA context)
# costs only its own case. The wgmma kernel stays out of the other processes (SPARQ_CUDA_WGMMA=0).
step "test_cuda (CUDA kernels vs CPU reference, one process per case)"
passed=0; failed=0; nodev=0
if "$BUILD/test_cuda" --case cuda_device_info 2>&1 | grep -q '^skipped: no CUDA device'; then
  nodev=1
  "$BUILD/test_cuda" 2>&1 | tee -a "$LOG"
  say "NO CUDA DEVICE: only the host-side cases ran; every GPU figure below is unmeasured"
  status=1
fi
for c in $([ "$status" -eq 0 ] && "$BUILD/test_cuda" --list); do
  if [ "$c" = cuda_gemm_s8_wgmma ]; then env_wg=(); else env_wg=(SPARQ_CUDA_WGMMA=0); fi
  env "${env_wg[@]}" timeout "$(budget 40)" "$BUILD/test_cuda" --case "$c" 2>&1 | grep -v ' passed, ' | tee -a "$LOG"
  if [ "${PIPESTATUS[0]}" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); say "FAIL (process) $c"; fi
done
say "test_cuda: $passed passed, $failed failed"
[ "$failed" -eq 0 ] || status=1

step "test_cuda_session (a session's layers on one stream, through the executor, vs the CPU plan)"
passed=0; failed=0
if [ "$nodev" = 1 ]; then
  "$BUILD/test_cuda_session" 2>&1 | tee -a "$LOG"   # says why, runs the host cases
else
  # The default kernel choice (wgmma where its self-test passes): what a session gets.
  for c in $("$BUILD/test_cuda_session" --list); do
    timeout "$(budget 40)" "$BUILD/test_cuda_session" --case "$c" 2>&1 | grep -v ' passed, ' | tee -a "$LOG"
    if [ "${PIPESTATUS[0]}" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); say "FAIL (process) $c"; fi
  done
fi
say "test_cuda_session: $passed passed, $failed failed"
[ "$failed" -eq 0 ] || status=1

step "bench_cuda (one process per section)"
: > "$BUILD/bench.txt"
for section in int8 wgmma 2:4 f16 spmm; do
  timeout "$(budget 40)" "$BUILD/bench_cuda" $QUICK "$section" 2>&1 | tee -a "$BUILD/bench.txt" | grep -v '^RESULT' | tee -a "$LOG"
  rc=${PIPESTATUS[0]}
  [ "$rc" -eq 0 ] || { say "bench_cuda $section FAILED (exit $rc)"; status=1; }
done

step "PyTorch peers (cuBLASLt int8, 2:4 semi-structured) and ratios"
if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  timeout "$(budget 100)" python3 scripts/gpu_peers.py "$BUILD/bench.txt" 2>&1 | tee -a "$LOG"
  [ "${PIPESTATUS[0]}" -eq 0 ] || { say "peer timing FAILED"; status=1; }
else
  say "PyTorch with CUDA is not available here: peers unmeasured (sparq's own figures above)"
fi

if [ -n "${OUT:-}" ] && [ -d "${OUT}" ]; then cp "$LOG" "$OUT/gpu-check.txt"; cp "$BUILD/bench.txt" "$OUT/bench.txt" 2>/dev/null; fi
say ""; say "gpu-check: $([ $status -eq 0 ] && echo OK || echo FAILED) ($(date +%T))"
exit $status
