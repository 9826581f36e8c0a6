#!/usr/bin/env sh
# Print the path of a Python 3.10 interpreter for the Rasa venv (Rasa 3.6 supports Python <= 3.10).
# Order: $PYTHON310 override, pyenv's newest 3.10.x, python3.10 on PATH. Exit 1 with a clear message otherwise.
set -eu

is_py310() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; }

if [ -n "${PYTHON310:-}" ]; then
  if is_py310 "$PYTHON310"; then echo "$PYTHON310"; exit 0; fi
  echo "PYTHON310=$PYTHON310 is not a Python 3.10 interpreter" >&2; exit 1
fi

root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
for candidate in $(ls -d "$root"/versions/3.10.* 2>/dev/null | sort -t. -k3 -n -r); do
  if is_py310 "$candidate/bin/python"; then echo "$candidate/bin/python"; exit 0; fi
done

if command -v python3.10 >/dev/null 2>&1 && is_py310 python3.10; then command -v python3.10; exit 0; fi

cat >&2 <<'MSG'
No Python 3.10 found. Rasa 3.6 needs it (it does not install on 3.11+).
Install one (e.g. `pyenv install 3.10.13`, or your distribution's python3.10) or set PYTHON310=/path/to/python3.10.
MSG
exit 1
