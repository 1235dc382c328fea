#!/usr/bin/env bash
# The project's checks, in the order CI runs them (.ci/run calls this after installing).
#   pip install -e ".[dev]" && bash tools/check.sh
#
# 1. nbdev_export, then git diff: xdc_fast/ must be what the notebooks export.
# 2. nbdev_clean, then git diff: notebooks must be committed clean.
#    Both compare the working tree with the git index: locally, `git add` your work first, then run this;
#    anything the check then rewrites is what you forgot to export/clean (stage it too).
# 3. README.md is what nbs/index.ipynb renders to (python tools/make_readme.py), and the paper's table blocks in the
#    docs are what its JSON gives (python tools/table_text.py).
# 4. bash tools/build_docs.sh: executes every notebook once, skipping the cells nbdev_test skips (settings.ini's
#    tst_flags: slow, cuda, notest), and renders docs/; it fails naming the notebook. This is the notebook test:
#    nbdev_test would run the same cells a second time (locally: `nbdev_test --n_workers 2`, or
#    `nbdev_test --flags "slow cuda"` for the flagged cells).
# 5. pytest -q --durations=15 tests, last: the whole suite, slow tier too; its summary is the closing line CI reads.
#    The fast tier alone: pytest -m "not slow" tests (a few minutes).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
die()  { printf '\nERROR: %s\n' "$*" >&2; exit 1; }

git rev-parse --is-inside-work-tree >/dev/null 2>&1 || die "$(pwd) is not a git checkout: the export/clean checks compare against git"

step "nbdev_export (xdc_fast/ must match nbs/)"
nbdev_export
untracked=$(git ls-files --others --exclude-standard -- xdc_fast)
if ! git diff --exit-code -- xdc_fast || [ -n "$untracked" ]; then
  [ -n "$untracked" ] && printf 'not in git:\n%s\n' "$untracked" >&2
  die "xdc_fast/ is out of sync with nbs/: run nbdev_export and commit"
fi

step "nbdev_clean (notebooks must be committed clean)"
nbdev_clean
git diff --exit-code -- nbs || die "notebooks are not clean: run nbdev_clean and commit"

step "README.md (must be what nbs/index.ipynb renders to)"
python tools/make_readme.py --check || die "README.md is out of sync with nbs/index.ipynb: run python tools/make_readme.py and commit"
python tools/table_text.py --check || die "the paper's table in the docs is not what benchmarks/results/*.json gives: run python tools/table_text.py and commit"

# The tutorial builds AV-digits with make_avdigits: from local copies of its sources where they sit beside the project
# (CI has no internet), otherwise downloaded.
if [ -z "${AVDIGITS_SOURCES:-}" ] && [ -d ../shared/data/fsdd ] && [ -d ../shared/data/mnist ]; then
  export AVDIGITS_SOURCES; AVDIGITS_SOURCES=$(cd ../shared/data && pwd)
fi
step "docs: bash tools/build_docs.sh (executes every notebook: the notebook test)"
bash tools/build_docs.sh || die "docs build failed (the notebook named above did not execute)"

step "pytest -q --durations=15 tests"
pytest -q --durations=15 tests
