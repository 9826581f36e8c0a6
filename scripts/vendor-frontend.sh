#!/usr/bin/env bash
# Copies the console's pinned front-end packages (bot/console/frontend/package-lock.json) into
# bot/console/static/vendor/, with their licences. The copies are committed: the console is served on
# air-gapped intranets, and neither CI nor a deployment needs npm. Run it (`make vendor`) after changing a pin.
set -euo pipefail
cd "$(dirname "$0")/.."
frontend=bot/console/frontend
out=bot/console/static/vendor

command -v npm >/dev/null || { echo "vendor-frontend: npm is needed to refresh the vendored files" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$frontend/package.json" "$frontend/package-lock.json" "$work/"
# --ignore-scripts: nothing a package ships runs here; we only copy its built files.
(cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)

modules=$work/node_modules
version() { node -p "require('$modules/$1/package.json').version"; }
rm -rf "$out"
mkdir -p "$out"
cp "$modules/htmx.org/dist/htmx.min.js" "$out/htmx.min.js"
cp "$modules/htmx.org/LICENSE" "$out/htmx.LICENSE"
cp "$modules/echarts/dist/echarts.min.js" "$out/echarts.min.js"
cp "$modules/echarts/LICENSE" "$out/echarts.LICENSE"
cp "$modules/echarts/NOTICE" "$out/echarts.NOTICE"
# echarts.min.js bundles zrender and tslib: their licences travel with it.
cp "$modules/zrender/LICENSE" "$out/zrender.LICENSE"
cp "$modules/tslib/LICENSE.txt" "$out/tslib.LICENSE"
{
  echo "Vendored by scripts/vendor-frontend.sh from npm (bot/console/frontend/package-lock.json); do not edit."
  for package in htmx.org echarts zrender tslib; do echo "$package $(version "$package")"; done
} >"$out/VERSIONS"
echo "vendored into $out:"
cat "$out/VERSIONS"
