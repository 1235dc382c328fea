#!/usr/bin/env bash
# Build the HTML docs site into docs/ from executed copies of the notebooks in nbs/.
#
# With Quarto installed, `nbdev_docs` is the full nbdev site (into _docs/). Quarto cannot be installed
# everywhere we build, so this renders the same notebooks with nbclient + nbconvert instead: cells
# flagged with settings.ini's tst_flags (slow, cuda, notest) or `#| eval: false` are shown but not run,
# exactly as `nbdev_test` skips them; `#| hide`/`#| export` cells run but are not shown.
# docs/ is generated: it is replaced as a whole, and left alone if any notebook fails to execute.
#
# Usage: bash tools/build_docs.sh [--out DIR] [--n_workers N] [--timeout SECS_PER_CELL] [--keep_executed DIR]
# Needs the dev install: pip install -e ".[dev]"
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
if ! "$PYTHON" -c 'import nbclient, nbconvert, nbformat, ipykernel, nbdev' 2>/dev/null; then
  echo "build_docs: $PYTHON lacks nbclient/nbconvert/ipykernel/nbdev; run: pip install -e \".[dev]\"" >&2
  exit 1
fi
start=$SECONDS
"$PYTHON" tools/render_docs.py "$@"
echo "build_docs: done in $((SECONDS - start))s; open docs/index.html"
