#!/bin/bash
# Every shell script of the tree passes shellcheck, with the settings of
# .shellcheckrc.  In a git checkout the scripts are the tracked files named
# *.sh or starting with a shell's #! line, so a new script is covered
# without being listed; in a tree without .git (a dist tarball), the files
# of that kind under scripts/, tests/ and .ci/, where they all live.
set -euo pipefail
. "$(dirname "$0")/lib-core.sh"

top=$(cd "${top_srcdir:-$(dirname "$0")/..}" && pwd -P)
command -v shellcheck >/dev/null || sv_skip "needs shellcheck (scripts/install-deps)"
cd "$top"

# A dist tarball unpacked inside a checkout is no checkout of its own.
if command -v git >/dev/null &&
   [ "$(git rev-parse --show-toplevel 2>/dev/null)" = "$top" ]; then
	how="tracked by git"
	mapfile -t -d '' candidates < <(git ls-files -z)
else
	how="under scripts/, tests/ and .ci/ (no git checkout)"
	mapfile -t -d '' candidates < <(find scripts tests .ci -type f -print0 2>/dev/null)
fi

scripts=()
for f in "${candidates[@]}"; do
	case $f in
	*.sh) scripts+=("$f") ;;
	*)
		# Reading the first line of a binary file is harmless.
		if head -n 1 "$f" 2>/dev/null | grep -aEq '^#! *(/usr)?/bin/(env +)?(ba|da)?sh( |$)'; then
			scripts+=("$f")
		fi ;;
	esac
done
[ ${#scripts[@]} -gt 0 ] || sv_fail "no shell script found $how"

version=$(shellcheck --version | sed -n 's/^version: //p')
rc=0
out=$(shellcheck -f gcc "${scripts[@]}" 2>&1) || rc=$?
if [ "$rc" != 0 ]; then
	printf '%s\n' "$out" >&2
	sv_fail "shellcheck $version (status $rc): $(grep -c . <<<"$out") findings in the ${#scripts[@]} shell scripts $how"
fi
sv_pass "shellcheck $version: the ${#scripts[@]} shell scripts $how are clean"
