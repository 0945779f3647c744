#!/usr/bin/env bash
# tools/format.sh: formats the C++ files tokenvault owns with the repository's .clang-format.
#
#   bash tools/format.sh           rewrites them in place
#   bash tools/format.sh --check   changes nothing; lists the files that differ and exits 1 if any does
#
# The files: every .hpp/.cpp under include/, tests/, benchmarks/, examples/ and tools/ that git tracks
# (all of them outside a git checkout). single_include/ is generated and is not formatted. clang-format 14
# is the version the style was written for (tools/bootstrap.sh installs it); another version may format
# differently, so this script insists on it.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
mode=fix
case "${1:-}" in
    "") ;;
    --check) mode=check ;;
    *) echo "usage: tools/format.sh [--check]" >&2; exit 2 ;;
esac

clang_format=$(command -v clang-format-14 || true)
if [[ -z "$clang_format" ]]; then
    echo "tools/format.sh: clang-format-14 not found (tools/bootstrap.sh installs it)" >&2
    exit 2
fi

dirs=(include tests benchmarks examples tools)
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    mapfile -t files < <(git ls-files --cached --others --exclude-standard -- "${dirs[@]/%//*.hpp}" "${dirs[@]/%//*.cpp}" | sort)
else
    mapfile -t files < <(find "${dirs[@]}" -type f \( -name '*.hpp' -o -name '*.cpp' \) | sort)
fi

if [[ $mode == fix ]]; then
    "$clang_format" -i --style=file "${files[@]}"
    echo "tools/format.sh: formatted ${#files[@]} files"
    exit 0
fi

unformatted=()
for f in "${files[@]}"; do
    if ! "$clang_format" --style=file --dry-run --Werror "$f" >/dev/null 2>&1; then
        unformatted+=("$f")
    fi
done
if [[ ${#unformatted[@]} -gt 0 ]]; then
    echo "tools/format.sh: ${#unformatted[@]} of ${#files[@]} files differ from .clang-format (run bash tools/format.sh):"
    printf '  %s\n' "${unformatted[@]}"
    exit 1
fi
echo "tools/format.sh: ${#files[@]} files formatted as .clang-format says"
