#!/usr/bin/env bash
# The test command: offline, seeded, on the project's .venv. Extra args go to pytest; when
# they name test files or folders, only those run (else the whole tests/ folder).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 PYTHONHASHSEED=0 OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
targets=(tests)
for arg in "$@"; do
  if [ -e "${arg%%::*}" ]; then targets=(); break; fi
done
exec .venv/bin/python -m pytest "${targets[@]}" -q -p no:cacheprovider "$@"
