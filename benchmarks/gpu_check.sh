#!/usr/bin/env bash
# The GPU check of issue 28, in one device call. Prepare here first (PyPI needed):
#
#     bash benchmarks/gpu_prepare.sh          # fills .gpu/ (wheels + gzipped MNIST, ~14 MiB)
#     GPU_CHECK_DRY=1 OUT=/tmp/gpucheck-out bash benchmarks/gpu_check.sh   # the same steps on CPU, tiny
#
# Then ONE call of the device tool:
#
#     run(command="bash benchmarks/gpu_check.sh", carry=[".gpu"], timeout_s=600)
#
# The script keeps itself within GPU_CHECK_BUDGET seconds (default 540: each step's cap is cut
# to what is left), so the call ends before its 600 s limit and $OUT always comes back.
# Afterwards: give_back, and copy $OUT/06-results-new.md into benchmarks/RESULTS.md.
#
# What it measures, against issue 28's targets (H100, one process, side by side):
#   02-cuda-tests   the captured-step tests (tests/test_graph_step.py: graphed and eager step give
#                   the same parameters on one batch) and the engine tests, on CUDA; skips listed
#   03-throughput   benchmarks/throughput.py --gpu, `dropout` preset, eager vs captured:
#                   batch 256 epoch  430 ms today -> <= 20 ms;  batch 1024 epoch  126 ms -> <= 10 ms;
#                   5-epoch run wall  13 s (import torch 5 s) -> <= import + 2 s;
#                   FLOP/s as a fraction of a measured fp32/TF32 matmul peak
#   04-recipe       benchmarks/gpu_recipe.toml, seeds 1 2 3 trained at once, then `mlp-tui eval` of
#                   each (must equal the recorded accuracy): best-class recipe 99.34 % in ~60 s
#                   -> >= 99.5 % (mean of 3 seeds) in <= 3 min of training per seed
#   05-compare      benchmarks/compare.py --gpu: 6 `dropout` members on one GPU < 2x one member
# Files in $OUT (8 come back at most): 01-env.txt 02-cuda-tests.txt 03-throughput.txt
# 04-recipe.txt 05-compare.txt 06-results-new.md (what the benchmarks appended to RESULTS.md)
# 07-summary.txt. A step that fails or runs past its cap is recorded, and the next one runs.
set -u
cd "$(dirname "$0")/.."
DRY=${GPU_CHECK_DRY:-0}
OUT=${OUT:-/tmp/gpucheck-out}
BUDGET=${GPU_CHECK_BUDGET:-540}
mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 MLP_TUI_DATA=$PWD/.gpu/mnist
SUMMARY=$OUT/07-summary.txt
: >"$SUMMARY"

if [ ! -d .gpu/wheels ] || [ ! -s .gpu/mnist/MNIST/raw/t10k-labels-idx1-ubyte.gz ]; then
    echo "gpu_check: .gpu/ is missing or incomplete: run benchmarks/gpu_prepare.sh here, carry [\".gpu\"]" | tee "$SUMMARY"
    exit 2
fi

if [ "$DRY" = 1 ]; then
    # The same commands on this CPU, tiny: only typos and broken plumbing can fail here.
    DEVICE=cpu
    THROUGHPUT_ARGS=(--device cpu --epochs 2 --subset 2000 --peak-size 512 "--run-args=--epochs 1 --subset 2000")
    RECIPE_ARGS=(--device cpu -- --epochs 1 --subset 2000)
    COMPARE_ARGS=(--device cpu --epochs 1 --subset 2000)
    export MLP_TUI_RESULTS=/tmp/gpucheck-dry-results.md  # RESULTS.md stays as it is
    : >"$MLP_TUI_RESULTS"
else
    DEVICE=cuda
    THROUGHPUT_ARGS=()
    RECIPE_ARGS=()
    COMPARE_ARGS=()
fi
RESULTS=${MLP_TUI_RESULTS:-benchmarks/RESULTS.md}
RESULTS_BEFORE=$(wc -l <"$RESULTS")

# step NAME CAP COMMAND...: run it under `timeout` with its cap (cut to the budget left), its
# output in $OUT/NAME.txt, and a line in the summary.
step() {
    local name=$1 cap=$2 left start rc
    shift 2
    left=$((BUDGET - SECONDS - 15))
    [ "$cap" -gt "$left" ] && cap=$left
    if [ "$cap" -lt 20 ]; then
        echo "$name: skipped, ${left}s of the ${BUDGET}s budget left" | tee -a "$SUMMARY"
        return
    fi
    echo "== $name (cap ${cap}s, ${SECONDS}s in)"
    start=$SECONDS
    timeout -k 10 "$cap" "$@" >"$OUT/$name.txt" 2>&1
    rc=$?
    [ "$rc" = 124 ] && echo "(stopped at its ${cap}s cap)" >>"$OUT/$name.txt"
    echo "$name: exit $rc, $((SECONDS - start))s (cap ${cap}s)" | tee -a "$SUMMARY"
}

environment() {
    date -u
    nvidia-smi || echo "(no nvidia-smi)"
    python3 - <<'PY'
import platform, torch
print("python", platform.python_version(), "torch", torch.__version__, "cuda", torch.version.cuda)
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print("device", p.name, f"{p.total_memory / 2**30:.0f} GiB", p.multi_processor_count, "SMs")
else:
    print("no CUDA device")
PY
    python3 -m pip list 2>/dev/null | grep -Ei '^(torch|textual|textual-plotext|plotext|platformdirs|rich|typer|nvidia-ml-py|numpy) '
    python3 -c "import textual, textual_plotext, platformdirs, mlp_tui.cli.main; print('imports: ok')"
}

cuda_tests() {
    local files=()
    for f in tests/test_graph_step.py tests/test_engine.py tests/test_gpu_usage.py; do
        [ -f "$f" ] && files+=("$f")
    done
    python3 -m pytest -q -rs -p no:cacheprovider "${files[@]}"
}

export DRY
export -f environment cuda_tests  # `timeout` runs programs: these run as `bash -c NAME`
# The carried wheels, here in this shell, so that a fallback's PYTHONPATH holds for every step.
WHEELS=(textual textual-plotext plotext platformdirs)
PIP=(python3 -m pip install -q --no-index --no-compile --find-links .gpu/wheels)
INSTALL_LOG=/tmp/gpucheck-install.txt
if [ "$DRY" = 1 ]; then  # into a throwaway folder: proves the carried set is complete
    "${PIP[@]}" --target /tmp/gpucheck-dry-site --upgrade "${WHEELS[@]}" >"$INSTALL_LOG" 2>&1 \
        && echo "wheels: complete set" >>"$INSTALL_LOG"
elif ! "${PIP[@]}" "${WHEELS[@]}" >"$INSTALL_LOG" 2>&1; then
    # The image's own packages clash (say, a pinned rich): all of ours, ahead of them on the path.
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/gpucheck-site .gpu/wheels/*.whl \
        >>"$INSTALL_LOG" 2>&1 && export PYTHONPATH=$PWD:/tmp/gpucheck-site
    echo "wheels: installed with --target /tmp/gpucheck-site (the plain install failed)" >>"$INSTALL_LOG"
fi
step 01-env 120 bash -c environment
cat "$INSTALL_LOG" >>"$OUT/01-env.txt"
grep -q "imports: ok" "$OUT/01-env.txt" || echo "the carried wheels did not install: see 01-env.txt" | tee -a "$SUMMARY"
step 02-cuda-tests 90 bash -c cuda_tests
step 03-throughput 120 python3 benchmarks/throughput.py --gpu "${THROUGHPUT_ARGS[@]}"
# The runs' own limit leaves the cap room for the stop, three `eval`s and the report.
left=$((BUDGET - SECONDS - 15))
cap=$((left < 270 ? left : 270))
step 04-recipe "$cap" python3 benchmarks/gpu_recipe_seeds.py --limit $((cap > 90 ? cap - 60 : 30)) "${RECIPE_ARGS[@]}"
step 05-compare 150 python3 benchmarks/compare.py --gpu "${COMPARE_ARGS[@]}"

tail -n +"$((RESULTS_BEFORE + 1))" "$RESULTS" >"$OUT/06-results-new.md"
{
    echo "device $DEVICE, dry=$DRY, ${SECONDS}s in all"
    grep -h -E '^[0-9]+ passed|passed|failed|error' "$OUT/02-cuda-tests.txt" 2>/dev/null | tail -2
} >>"$SUMMARY"
echo "== summary"
cat "$SUMMARY"
echo "== new in RESULTS.md"
cat "$OUT/06-results-new.md"
