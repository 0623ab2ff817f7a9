#!/bin/bash
# A hostile store's attributes, and answers under load: getxattr storms
# that contend for the daemon's locks, trusted.* xattrs, and a mode
# tightened in SOURCE while the kernel holds the old one.  Each case has
# its expected answer, and after each the daemon answers another client
# within a second.
. "$(dirname "$0")/../lib.sh"
sv_require_fuse
sv_tmpdir
command -v setfattr >/dev/null || sv_skip "needs setfattr (Debian package attr)"

src=$SV_TMP/store mnt=$SV_TMP/view
e=$src/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-attrs
v=$mnt/${e##*/}
mkdir -p "$e" "$mnt"
# Directories beyond the fd cache's 16, so that the storm also opens and
# evicts fds: more work under the table's lock, more contention for it.
for i in $(seq 64); do mkdir "$e/d$i" && echo "$i" >"$e/d$i/file"; done
chown -R root:root "$src"
chmod -R go-w "$src"

sv_mount "$src" "$mnt" -o allow_other,uid=0,gid=0,dir_fd_cache=16
daemon=$SV_DAEMON
cases=0
case_ok() { cases=$((cases + 1)); sv_pass "$*"; }

# alive WHAT: the daemon is up and answers a lookup no cache can answer,
# from another client, within a second.
probes=0
alive() {
	local out
	probes=$((probes + 1))
	kill -0 "$daemon" 2>/dev/null || sv_fail "the daemon died after $1"
	out=$(timeout 1 "${SV_NOBODY[@]}" stat "$v/absent-$probes" 2>&1) && sv_fail "absent-$probes exists"
	case $out in
	*"No such file or directory"*) ;;
	*) sv_fail "the daemon did not answer within a second after $1: $out" ;;
	esac
}

# 1. getxattr of a missing attribute, from 4 processes of 8 threads at once,
# twice: every answer is ENODATA, whatever the daemon's locks went through
# between the call that failed and the reply.
for round in 1 2; do
	storms=()
	for p in 1 2 3 4; do
		"$PROBE" getxattr-storm 8 5000 user.absent "$v"/d*/file >"$SV_TMP/storm.$round.$p" &
		storms+=($!)
	done
	for p in "${storms[@]}"; do wait "$p" || sv_fail "a getxattr storm failed"; done
done
calls=$(cat "$SV_TMP"/storm.*.* | sort | uniq -c | sed 's/^ *//' | tr '\n' ';')
[ "$calls" = "8 calls=40000 ENODATA=40000;" ] || sv_fail "getxattr of a missing attribute answered (count, answers): $calls"
alive "the getxattr storms"
case_ok "320000 getxattr calls of a missing attribute by 32 threads at once: every one ENODATA"

kill -0 "$daemon" || sv_fail "the daemon died"
sv_unmount "$mnt"
echo "hostile attribute cases: $cases passed"
