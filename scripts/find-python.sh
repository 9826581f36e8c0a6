#!/usr/bin/env sh
# Usage: find-python.sh 3.10 PYTHON310
# Print the path of a Python X.Y interpreter. Order: the override variable, pyenv's newest X.Y.z,
# pythonX.Y on PATH. Exit 1 with a clear message when there is none.
set -eu
want="$1"
override_var="$2"
eval "override=\${$override_var:-}"

is_wanted() { "$1" -c "import sys; sys.exit('%d.%d' % sys.version_info[:2] != '$want')" 2>/dev/null; }

if [ -n "$override" ]; then
  if is_wanted "$override"; then echo "$override"; exit 0; fi
  echo "$override_var=$override is not a Python $want interpreter" >&2; exit 1
fi

root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
for candidate in $(ls -d "$root"/versions/"$want".* 2>/dev/null | sort -t. -k3 -n -r); do
  if is_wanted "$candidate/bin/python"; then echo "$candidate/bin/python"; exit 0; fi
done

if command -v "python$want" >/dev/null 2>&1 && is_wanted "python$want"; then command -v "python$want"; exit 0; fi

echo "No Python $want found. Install one (e.g. \`pyenv install $want\`, or your distribution's python$want)," >&2
echo "or set $override_var=/path/to/python$want." >&2
exit 1
