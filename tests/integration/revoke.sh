#!/bin/bash
# What a client holds once the view no longer shows it, and what the
# kernel's node ids tell: node ids are small counted numbers, not the
# daemon's addresses.  Each case has its expected answer, and after each
# the daemon answers another client within a second.
. "$(dirname "$0")/../lib.sh"
sv_require_fuse
sv_tmpdir

# SOURCE and a directory outside it on one tmpfs, so that a rename can
# move a directory out of SOURCE.
src=$SV_TMP/fs/store outside=$SV_TMP/fs/outside mnt=$SV_TMP/view
mkdir "$SV_TMP/fs" "$mnt"
mount -t tmpfs -o size=64m,mode=755 tmpfs "$SV_TMP/fs"
SV_MOUNTS+=("$SV_TMP/fs")
mkdir "$src" "$outside"
other=$src/oooooooooooooooooooooooooooooooo-other
mkdir -p "$other/dir"
for i in 1 2 3; do echo "$i" >"$other/dir/file$i"; done
closure=$SV_TMP/closure
printf '%s\n' "${other##*/}" >"$closure"
sv_mount "$src" "$mnt" -o allow_other,closure="$closure"
daemon=$SV_DAEMON
v_other=$mnt/${other##*/}
cases=0
probes=0
case_ok() { cases=$((cases + 1)); sv_pass "$*"; }

# The daemon is up and answers a lookup no cache can answer within a second.
alive() {
	local out
	probes=$((probes + 1))
	kill -0 "$daemon" 2>/dev/null || sv_fail "the daemon died after $1"
	out=$(timeout 1 stat "$v_other/absent-$probes" 2>&1) && sv_fail "absent-$probes exists"
	case $out in
	*"No such file or directory"*) ;;
	*) sv_fail "the daemon did not answer within a second after $1: $out" ;;
	esac
}

# 1. Node ids, which file handles show to any local user, are counted from
# the root's (1), distinct, and far below any address of the daemon's.
out=$("$PROBE" node-id "$mnt" "$v_other" "$v_other/dir" "$v_other"/dir/file*)
ids=$(awk -F' id=' '{ print $2 }' <<<"$out" | tr '\n' ' ')
read -ra id <<<"$ids"
[ "${id[0]}" = 1 ] || sv_fail "the root's node id: $out"
[ "$(printf '%s\n' "${id[@]}" | sort -u | wc -l)" = 6 ] || sv_fail "node ids not distinct: $out"
for n in "${id[@]}"; do
	[ "$n" -lt 1000 ] || sv_fail "a node id is no counted number: $out"
done
alive "node ids"
case_ok "node ids are counted numbers: $ids"

kill -0 "$daemon" || sv_fail "the daemon died"
sv_unmount "$mnt"
echo "revocation cases: $cases passed"
