#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every C and C++ file of the repository as clang-format (the version Debian
# bookworm ships, 14) and the top-level .clang-format write it. Prints TAP, one
# line per file that differs; `scripts/check_format.sh --fix` rewrites them.
set -euo pipefail
cd "$(dirname "$0")/.."
CLANG_FORMAT=${CLANG_FORMAT:-clang-format}
mapfile -t files < <(git ls-files '*.c' '*.cpp' '*.h')
if [ "${1:-}" = "--fix" ]; then
  "$CLANG_FORMAT" -i "${files[@]}"
  exit 0
fi
echo "1..1"
bad=()
for f in "${files[@]}"; do
  "$CLANG_FORMAT" --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
for f in "${bad[@]}"; do echo "# not formatted: $f (scripts/check_format.sh --fix)"; done
if [ ${#bad[@]} -eq 0 ]; then
  echo "ok 1 - ${#files[@]} C/C++ files formatted as .clang-format says"
else
  echo "not ok 1 - ${#bad[@]} of ${#files[@]} C/C++ files not formatted as .clang-format says"
  exit 1
fi
