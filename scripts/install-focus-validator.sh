#!/usr/bin/env bash
# Installs the FinOps Foundation's FOCUS validator (focus-validator from PyPI) into its own
# virtual environment, .venv-focus, for the FOCUS export's conformance test. It needs Python
# >= 3.12 (this project runs on 3.11): a python3.13/python3.12 on PATH or one that pyenv has
# built. Without one, the test is skipped and says why.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-focus
if [ -x "$VENV/bin/focus-validator" ]; then
  exit 0
fi
PY=""
for candidate in python3.12 python3.13; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import venv' 2>/dev/null; then
    PY=$(command -v "$candidate")
    break
  fi
done
if [ -z "$PY" ]; then
  for dir in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*; do
    if [ -x "$dir/bin/python3" ]; then
      PY="$dir/bin/python3"
      break
    fi
  done
fi
if [ -z "$PY" ]; then
  echo "WARNING: no Python >= 3.12 here: the focus-validator conformance test will be skipped" >&2
  exit 0
fi
echo "installing focus-validator with $PY into $VENV" >&2
"$PY" -m venv "$VENV"
# focus-validator 2.2.1 pins numpy < 2; pyarrow 18+ needs numpy 2, so pyarrow stays below 18.
if ! "$VENV/bin/pip" install -q --disable-pip-version-check 'focus-validator==2.2.1' 'pyarrow<18' \
    2>"$VENV/pip.log"; then
  grep -v "is ignored" "$VENV/pip.log" >&2 || true
  echo "WARNING: focus-validator could not be installed: its test will be skipped" >&2
  rm -rf "$VENV"
fi
