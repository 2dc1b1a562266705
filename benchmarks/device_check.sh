#!/usr/bin/env bash
# The GPU checks, as one prepared run on a lent device machine (/work/.library/device): the test
# suite's CUDA paths, then img/s of both speed presets eager and compiled, then (when the CIFAR-10
# JPEG copy travels in .data/) their time to accuracy. Everything it prints lands in $OUT too.
#
#   run(command="bash benchmarks/device_check.sh", carry=[".data"], timeout_s=540)
#
# The device image has torch with CUDA, numpy, pillow, tqdm and pytest: convscope runs there from
# the checkout without installing (a `convscope` link to server/). The JPEG zip (62.3 MiB) and the
# tree (about 2 MiB) only just miss the 64 MiB a call may carry: without .data the accuracy part
# is skipped.
set -uo pipefail
export PYTHONUNBUFFERED=1
out=${OUT:-/tmp/device-check}
mkdir -p "$out" .site && ln -sfn "$PWD/server" .site/convscope
export PYTHONPATH="$PWD/.site:$PWD/tests:$PWD/benchmarks"

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
python3 -c "import torch; print('torch', torch.__version__, 'bf16 native:', torch.cuda.get_device_capability() >= (8, 0))"

# the CUDA paths of the tests (they skip without a GPU on CI)
timeout 120 python3 -m pytest -q -p no:cacheprovider -k "cuda or CUDA or precision" \
  tests/train tests/watched/test_layers.py 2>&1 | tee "$out/tests.txt"

# speed on random images: both presets, eager and torch.compile'd, compile time included
for model in fast fast-wide; do
  timeout 150 python3 benchmarks/compile.py --model "$model" --steps 50 2>&1 | tee "$out/speed-$model.txt"
done

if [ -f .data/cifar10-jpeg.zip ]; then
  timeout 240 python3 benchmarks/time_to_accuracy.py --model fast fast-wide --eval-every 1 \
    --data .data/cifar10-jpeg.zip 2>&1 | tee "$out/accuracy.txt"
else
  echo "no .data/cifar10-jpeg.zip: time to accuracy skipped"
fi
