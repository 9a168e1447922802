#!/bin/bash
# Usage: bash scripts/dockerfile-dry-run.sh (a few minutes: npm ci compiles the addon). Needs npm and the
# build tools the Dockerfile installs (cmake, ninja, g++, python3); curl for the final check.
# Replays deploy/Dockerfile's two stages without Docker (no daemon, no registry for the base images here):
# stage 1 in a fresh directory with exactly the COPY'd files, stage 2 as a directory holding only what the
# runtime stage copies; then `sparq serve` from it answers /v2/health/ready and one inference.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(mktemp -d); run=$(mktemp -d)
cd "$src"
cp package.json package-lock.json .npmrc CMakeLists.txt binding.gyp tsconfig.json tsconfig.build.json "$build/"
cp -r scripts native src bin "$build/"
cd "$build"
npm ci --no-audit --no-fund
npm prune --omit=dev --no-audit --no-fund
rm -rf build/CMakeFiles build/*.ninja build/.ninja_*
mkdir -p "$run/build/Release"
cp package.json "$run/"; cp -r node_modules dist bin "$run/"; cp build/Release/sparq.node "$run/build/Release/"
du -sh "$run" "$run/node_modules"
mkdir -p "$run/models/mlp"
node -e "import('$build/dist/onnx/zoo.js').then(z=>require('fs').writeFileSync('$run/models/mlp/model.onnx', z.mlpModel({sizes:[4,8,3],seed:1})))"
cd "$run"
NODE_ENV=production node bin/sparq.js serve "$run/models" --host 127.0.0.1 --port 18765 & pid=$!
for i in $(seq 1 50); do curl -sf http://127.0.0.1:18765/v2/health/ready >/dev/null && break; sleep 0.2; done
curl -sf http://127.0.0.1:18765/v2/health/ready -o /dev/null -w "ready %{http_code}\n"
curl -sf -X POST http://127.0.0.1:18765/v2/models/mlp/infer -H 'content-type: application/json' -d '{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}'; echo
kill -TERM $pid; wait $pid || true
rm -rf "$build" "$run"
echo "dry run passed: both stages' files build, install and serve"
