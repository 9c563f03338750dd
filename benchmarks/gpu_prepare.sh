#!/usr/bin/env bash
# Fill .gpu/ (git-ignored) with what the GPU machine lacks and cannot download, for
# benchmarks/gpu_check.sh: pure-Python wheels of the TUI's dependencies for Python 3.12, and a
# gzipped MNIST (the loader reads *.gz in MNIST/raw by content). Run here, where PyPI answers;
# run again at will: what is already there is kept.
#
#     bash benchmarks/gpu_prepare.sh          # then: du -sh .gpu  (about 14 MiB)
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS=.gpu/wheels
RAW=.gpu/mnist/MNIST/raw
SRC=${MLP_TUI_DATA:-$PWD/../shared/datasets}/MNIST/raw
mkdir -p "$WHEELS" "$RAW"

# The versions this checkout is developed and tested with, so the GPU run imports the same code.
pins=$(python3 - <<'PY'
from importlib.metadata import version
print(" ".join(f"{n}=={version(n)}" for n in ("textual", "textual-plotext", "plotext", "platformdirs")))
PY
)
# With their dependencies (all pure Python, ~3 MB): the GPU image's own rich, pygments and
# markdown-it-py may be older than textual wants; pip there takes these only where it must.
if [ -z "$(ls "$WHEELS"/textual-*.whl 2>/dev/null)" ] || [ ! -f "$WHEELS/.pins" ] || [ "$(cat "$WHEELS/.pins")" != "$pins" ]; then
    rm -f "$WHEELS"/*.whl
    # shellcheck disable=SC2086  # $pins is a list of requirements
    python3 -m pip download -q --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
        --platform any -d "$WHEELS" $pins
    echo "$pins" >"$WHEELS/.pins"
fi

for name in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    if [ ! -s "$RAW/$name.gz" ]; then
        if [ -f "$SRC/$name" ]; then
            gzip -9 -n -c "$SRC/$name" >"$RAW/$name.gz.tmp"
        elif [ -f "$SRC/$name.gz" ]; then
            cp "$SRC/$name.gz" "$RAW/$name.gz.tmp"
        else
            echo "gpu_prepare: $SRC/$name (or .gz) not found; set MLP_TUI_DATA" >&2
            exit 1
        fi
        mv "$RAW/$name.gz.tmp" "$RAW/$name.gz"  # never a half-written archive under the real name
    fi
done

ls "$WHEELS"
du -sh .gpu "$WHEELS" "$RAW"
