#!/usr/bin/env bash
# Usage: scripts/check-docs.sh
#
# Checks that the docs read as reference, not as a lab notebook: apps/doc/performance.md has at most 250 lines and
# README.md at most 200; tensor/reference/README.md gives the folder's true line count; no tracked .md file, and no
# comment of a tracked source file, names a commit (a 7-40 character lowercase hex word with a digit and a letter
# that `git rev-parse` resolves to a commit) or an issue number (`issue` followed by a number, case-insensitive).
# Sources are C++, CUDA, shell, Python and CMake files and scripts with a shebang; of them only the text from a `//`
# or `#` on is read. Files come from `git ls-files` in a git checkout, else from `find` (then the commit check is
# skipped: without git no token can be told a commit). Prints each violation as FILE:LINE: what, and exits 1 if
# there is any; 0 when all pass.
set -euo pipefail

[[ $# -eq 0 ]] || { sed -n '2,10p' "$0" >&2; exit 2; }
cd "$(dirname "${BASH_SOURCE[0]}")/.."

failures=0
fail() {
    echo "$1" >&2
    failures=$((failures + 1))
}

# Line limits.
check_lines() {  # FILE MAX
    [[ -f $1 ]] || { fail "$1: missing"; return; }
    local n
    n=$(wc -l < "$1")
    ((n <= $2)) || fail "$1: $n lines, at most $2"
}
check_lines apps/doc/performance.md 250
check_lines README.md 200

# The reference backend's README says how many lines it is; the count must be today's.
if [[ -f tensor/reference/README.md ]]; then
    said=$(grep -oE '[0-9,]+ lines in [a-z]+ files' tensor/reference/README.md | head -n 1 | grep -oE '^[0-9,]+' | tr -d ,)
    actual=$(cat tensor/reference/*.h tensor/reference/*.cpp | wc -l)
    [[ $said == "$actual" ]] || fail "tensor/reference/README.md: says ${said:-no} lines, the folder's sources have $actual"
fi

# The files to read.
in_git=false
if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then in_git=true; fi
files=()
if $in_git; then
    while IFS= read -r -d '' f; do files+=("$f"); done < <(git ls-files -z)
else
    echo "check-docs: not a git checkout: listing files with find, skipping the commit check" >&2
    while IFS= read -r -d '' f; do files+=("${f#./}"); done < <(
        find . \( -path ./.git -o -path ./build -o -path ./out -o -path ./.gpu-deps -o -name __pycache__ \) -prune \
            -o -type f -print0)
fi

is_source() {  # FILE
    case $1 in
        *.h | *.hpp | *.cpp | *.cc | *.cu | *.cuh | *.sh | *.py | *.cmake | *.cmake.in | CMakeLists.txt | */CMakeLists.txt)
            return 0 ;;
    esac
    [[ -f $1 && $(head -c 2 "$1" 2> /dev/null | tr -d '\0') == '#!' ]]
}

# The text to check, as LINE:TEXT: every line of a .md file; of a source, the part of each line from its first
# `//` or `#` on.
text_of() {  # FILE KIND
    if [[ $2 == md ]]; then
        awk '{ print FNR ":" $0 }' "$1"
    else
        awk '{
            c = index($0, "//"); h = index($0, "#")
            if (c == 0 || (h > 0 && h < c)) c = h
            if (c > 0) print FNR ":" substr($0, c)
        }' "$1"
    fi
}

declare -A is_commit=()  # token -> yes/no, so that each token costs one git call
commit_token() {  # TOKEN: is it a commit of this repository?
    local t=$1
    if [[ -z ${is_commit[$t]+set} ]]; then
        if git rev-parse --verify --quiet "$t^{commit}" > /dev/null 2>&1; then is_commit[$t]=yes; else is_commit[$t]=no; fi
    fi
    [[ ${is_commit[$t]} == yes ]]
}

for f in "${files[@]}"; do
    [[ -f $f ]] || continue  # deleted in the working tree, or a submodule
    case $f in
        *.md) kind=md ;;
        *) if is_source "$f"; then kind=source; else continue; fi ;;
    esac
    text=$(text_of "$f" "$kind")
    [[ -n $text ]] || continue
    # issue numbers
    while IFS= read -r hit; do
        [[ -n $hit ]] || continue
        while IFS= read -r ref; do
            fail "$f:${hit%%:*}: issue reference: $ref"
        done < <(grep -oiE 'issue #?[0-9]+' <<< "${hit#*:}")
    done < <(grep -iE 'issue #?[0-9]+' <<< "$text" || true)
    # commit hashes
    $in_git || continue
    while IFS= read -r hit; do
        [[ -n $hit ]] || continue
        line=${hit%%:*}
        while IFS= read -r token; do
            [[ -n $token && $token == *[0-9]* && $token == *[a-f]* ]] || continue
            if commit_token "$token"; then fail "$f:$line: commit hash: $token"; fi
        done < <(grep -owE '[0-9a-f]{7,40}' <<< "${hit#*:}" | sort -u || true)
    done < <(grep -wE '[0-9a-f]{7,40}' <<< "$text" || true)
done

if ((failures > 0)); then
    echo "check-docs: $failures violation(s)" >&2
    exit 1
fi
echo "check-docs: ok"
