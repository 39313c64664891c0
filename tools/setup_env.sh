#!/usr/bin/env bash
# One-command setup: creates .venv and installs the pinned stack + mmdepth_dgr (editable,
# with test extras). Idempotent: a second run only checks and exits in seconds.
#   bash tools/setup_env.sh               # mmcv-lite (no compiled ops; enough for depth)
#   bash tools/setup_env.sh --full-mmcv   # also build full mmcv 2.1.0 from source (10-12 min)
# Every version is pinned exactly in requirements/{runtime,tests}.txt; the run ends with a
# check that the installed versions are the pinned ones. VENV=/path/to/venv selects
# another environment folder (default: .venv in the checkout).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${VENV:-$ROOT/.venv}
PY=${PYTHON:-python3}
FULL_MMCV=0
for arg in "$@"; do
  case "$arg" in
    --full-mmcv) FULL_MMCV=1 ;;
    -h|--help) sed -n 2,8p "$0"; exit 0 ;;
    *) echo "setup_env.sh: unknown option '$arg' (use --full-mmcv or --help)" >&2; exit 2 ;;
  esac
done

REQS=(requirements/runtime.txt requirements/tests.txt)
STAMP="$VENV/.mmdepth_dgr_stamp"
HASH=$(cat "${REQS[@]}" setup.py | sha256sum | cut -c1-16)

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating virtual environment $VENV with $($PY --version)"
  "$PY" -m venv "$VENV"
fi

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$HASH" ] && \
   "$VENV/bin/python" -c "import mmdepth_dgr" 2>/dev/null; then
  echo "[setup] environment is up to date ($VENV); nothing to install"
else
  echo "[setup] installing the pinned stack in one pip call (torch pins keep the resolver from swapping torch)"
  "$VENV/bin/python" -m pip install --quiet --upgrade "pip<27"
  args=()
  for r in "${REQS[@]}"; do args+=(-r "$r"); done
  "$VENV/bin/python" -m pip install "${args[@]}"
  echo "[setup] installing mmdepth_dgr in editable mode (no dependency changes)"
  "$VENV/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e .
  echo "$HASH" > "$STAMP"
fi

if [ "$FULL_MMCV" = 1 ]; then
  if "$VENV/bin/python" -c "import importlib.util,sys; sys.exit(importlib.util.find_spec('mmcv._ext') is None)"; then
    echo "[setup] full mmcv with compiled ops is already installed"
  else
    echo "[setup] building full mmcv 2.1.0 from source (10-12 min on 2 cores; torch 2.14 needs -std=c++20)"
    tmp=$(mktemp -d)
    "$VENV/bin/python" -m pip download --no-deps --no-binary :all: -d "$tmp" mmcv==2.1.0
    tar -xzf "$tmp"/mmcv-2.1.0.tar.gz -C "$tmp"
    sed -i 's/-std=c++17/-std=c++20/g' "$tmp"/mmcv-2.1.0/setup.py
    "$VENV/bin/python" -m pip uninstall -y mmcv-lite
    (cd "$tmp"/mmcv-2.1.0 && MMCV_WITH_OPS=1 MAX_JOBS=2 "$VENV/bin/python" -m pip install --no-build-isolation .)
    rm -rf "$tmp"
  fi
fi

echo "[setup] checking the installation"
"$VENV/bin/python" -m pip check
"$VENV/bin/python" - <<'PY'
import sys
from mmdepth_dgr.utils.run_record import pin_mismatches
bad = pin_mismatches()
if bad:
    for name, pinned, installed in bad:
        print(f'[setup] {name}: pinned {pinned}, installed {installed or "nothing"}',
              file=sys.stderr)
    sys.exit('[setup] installed versions differ from requirements/ (listed above)')
print('[setup] every installed version equals its pin in requirements/')
PY
"$VENV/bin/python" - <<'PY'
import mmdepth_dgr, torch, mmcv, mmengine, mmseg
from mmdepth_dgr.utils import has_compiled_mmcv
print(f'[setup] mmdepth_dgr {mmdepth_dgr.__version__} | torch {torch.__version__} '
      f'(cuda available: {torch.cuda.is_available()}) | mmengine {mmengine.__version__} '
      f'| mmcv {mmcv.__version__} ({"compiled ops" if has_compiled_mmcv() else "lite: stand-in for mmcv._ext"}) '
      f'| mmseg {mmseg.__version__}')
PY
echo "[setup] done. Activate with: source $VENV/bin/activate"
