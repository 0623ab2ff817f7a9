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
# trusted.* names beside a user.* one, on a file and a directory.
mkdir "$e/trusted-dir" && echo trusted >"$e/trusted-file"
for f in "$e/trusted-file" "$e/trusted-dir"; do
	setfattr -n trusted.storeview.secret -v hidden "$f"
	setfattr -n user.storeview.shown -v shown "$f" 2>/dev/null ||
		sv_skip "SOURCE's file system ($(stat -f -c %T "$src")) has no user.* xattrs"
done
# Modes tightened while mounted.
echo tightened >"$e/tightened"
mkdir "$e/tightened-dir" && echo known >"$e/tightened-dir/known" && echo other >"$e/tightened-dir/other"
chown -R root:root "$src"
chmod -R go-w "$src"

sv_mount "$src" "$mnt" -o allow_other,uid=0,gid=0,dir_fd_cache=16
daemon=$SV_DAEMON
cases=0
case_ok() { cases=$((cases + 1)); sv_pass "$*"; }


# 1. getxattr of a missing attribute, from 4 processes of 8 threads at once,
# twice: every answer is ENODATA, whatever the daemon's locks went through
# between the call that failed and the reply.  A daemon under valgrind runs
# one thread at a time, contends for no lock, and takes a minute for 30,000
# calls: it gets a short storm.
threads=8 calls=5000
[ ${#SV_WRAPPER[@]} -eq 0 ] || threads=2 calls=250
for round in 1 2; do
	storms=()
	for p in 1 2 3 4; do
		"$PROBE" getxattr-storm "$threads" "$calls" user.absent "$v"/d*/file >"$SV_TMP/storm.$round.$p" &
		storms+=($!)
	done
	for p in "${storms[@]}"; do wait "$p" || sv_fail "a getxattr storm failed"; done
done
per=$((threads * calls))
answers=$(cat "$SV_TMP"/storm.*.* | sort | uniq -c | sed 's/^ *//' | tr '\n' ';')
[ "$answers" = "8 calls=$per ENODATA=$per;" ] || sv_fail "getxattr of a missing attribute answered (count, answers): $answers"
sv_alive "$v" "the getxattr storms"
case_ok "$((8 * per)) getxattr calls of a missing attribute by $((4 * threads)) threads at once: every one ENODATA"

# xattr_names PATH [PREFIX...]: the names of PATH's xattrs as the command
# PREFIX (e.g. as_nobody) lists them, on one line.
xattr_names() {
	local path=$1
	shift
	"$@" getfattr --absolute-names -m - "$path" 2>&1 | grep -v '^# file' | grep . | sort | paste -sd ' ' -
}

# 2. trusted.* xattrs: root lists and reads them through the view; nobody
# neither lists nor reads them, as from SOURCE (the view or mapped-xattr
# layout alike), and still sees the user.* one.
mkdir "$SV_TMP/view-virtfs"
sv_mount "$src" "$SV_TMP/view-virtfs" -o allow_other,uid=0,gid=0,virtfs_xattrs
for f in trusted-file trusted-dir; do
	[ "$(xattr_names "$e/$f")" = "trusted.storeview.secret user.storeview.shown" ] ||
		sv_fail "control: root lists in SOURCE: $(xattr_names "$e/$f")"
	[ "$(xattr_names "$e/$f" as_nobody)" = "user.storeview.shown" ] ||
		sv_fail "control: nobody lists in SOURCE: $(xattr_names "$e/$f" as_nobody)"
	[ "$(xattr_names "$v/$f")" = "trusted.storeview.secret user.storeview.shown" ] ||
		sv_fail "$f: root lists through the view: $(xattr_names "$v/$f")"
	[ "$(getfattr --absolute-names --only-values -n trusted.storeview.secret "$v/$f")" = hidden ] ||
		sv_fail "$f: root cannot read its trusted.* xattr through the view"
	for view in "$v" "$SV_TMP/view-virtfs/${e##*/}"; do
		names=$(xattr_names "$view/$f" as_nobody | sed 's/ *user\.virtfs\.[a-z_]*//g')
		[ "$names" = "user.storeview.shown" ] || sv_fail "$f: nobody lists through $view: $names"
		out=$(as_nobody getfattr --absolute-names --only-values -n trusted.storeview.secret "$view/$f" 2>&1) &&
			sv_fail "$f: nobody read a trusted.* xattr through $view: $out"
		case $out in *"No such attribute"*) ;; *) sv_fail "$f: nobody's getxattr of trusted.*: $out" ;; esac
	done
done
sv_alive "$v" "trusted.* xattrs"
case_ok "trusted.* xattrs of a file and a directory: listed and read by root, neither listed nor read by nobody (also with virtfs_xattrs), as in SOURCE"
sv_unmount "$SV_TMP/view-virtfs"

# 3. Modes tightened in SOURCE after nobody read through the view, which
# keeps the kernel's entries and attributes (the default hour-long
# timeout): the kernel still grants by the old modes, and the daemon's own
# checks, at open and lookup, refuse by the new ones, as SOURCE does.
[ "$(as_nobody cat "$v/tightened" "$v/tightened-dir/known")" = "$(printf 'tightened\nknown')" ] ||
	sv_fail "nobody cannot read the files before their modes are tightened"
chmod 600 "$e/tightened"
chmod 700 "$e/tightened-dir"
for f in "$e/tightened" "$e/tightened-dir/other"; do
	as_nobody cat "$f" >/dev/null 2>&1 && sv_fail "control: nobody reads $f in SOURCE"
done
[ "$(stat --cached=always -c %a "$v/tightened" "$v/tightened-dir")" = "$(printf '644\n755')" ] ||
	sv_fail "the kernel's attributes were not the old ones: $(stat --cached=always -c %a "$v/tightened" "$v/tightened-dir" | paste -sd ' ' -)"
out=$(as_nobody cat "$v/tightened" 2>&1) && sv_fail "nobody read a file whose mode is now 0600: $out"
case $out in *"Permission denied"*) ;; *) sv_fail "the file whose mode is now 0600: $out" ;; esac
out=$(as_nobody cat "$v/tightened-dir/other" 2>&1) && sv_fail "nobody looked up a name in a directory whose mode is now 0700: $out"
case $out in *"Permission denied"*) ;; *) sv_fail "the directory whose mode is now 0700: $out" ;; esac
[ "$(cat "$v/tightened" "$v/tightened-dir/other")" = "$(printf 'tightened\nother')" ] ||
	sv_fail "root cannot read the files whose modes were tightened"
sv_alive "$v" "modes tightened"
case_ok "a file made 0600 and a directory 0700 in SOURCE while the kernel holds them as 0644 and 0755: nobody gets EACCES at open and at lookup, root reads"

kill -0 "$daemon" || sv_fail "the daemon died"
sv_unmount "$mnt"
echo "hostile attribute cases: $cases passed"
