#!/bin/bash
# Open files after the attribute timeout: every kind of handle the view
# gives (a small file read through the daemon, a large one read by
# passthrough, an entry virtfs_xattrs shows as a file, and no handle at all
# under no_open) is opened, and after -o timeout=1 has expired, twice, the
# kernel asks the daemon again: fstat, lseek (END, DATA, HOLE), pread, mmap
# and sendfile through each open file, each 2 s after the one before, must
# answer what they answer on SOURCE.  An open file outlives its name: two
# files are removed from SOURCE once open (not under no_open, where the
# daemon holds nothing for an open file).
. "$(dirname "$0")/../lib.sh"
sv_require_fuse
sv_tmpdir

src=$SV_TMP/store
e=kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk-handles
mkdir -p "$src/$e"
head -c 100000 /dev/urandom >"$src/$e/small"
head -c 3145728 /dev/urandom >"$src/$e/big"
mkdir "$SV_TMP/removed"
head -c 100000 /dev/urandom >"$SV_TMP/removed/small"
head -c 3145728 /dev/urandom >"$SV_TMP/removed/big"
cp "$SV_TMP/removed/small" "$src/$e/small-removed"
cp "$SV_TMP/removed/big" "$src/$e/big-removed"
ln -s ../some/target/of/the/link "$src/$e/link"
(cd "$src/$e" && chmod 444 small big small-removed big-removed)
chmod 555 "$src/$e"
# What virtfs_xattrs shows for the symlink: a file holding its target.
printf '%s' ../some/target/of/the/link >"$SV_TMP/link.as-file"

modes=(plain virtfs no_open no_open-virtfs)
declare -A extra=([plain]="" [virtfs]=",virtfs_xattrs" [no_open]=",no_open"
		  [no_open-virtfs]=",no_open,virtfs_xattrs")
pairs=()
for m in "${modes[@]}"; do
	mkdir "$SV_TMP/$m"
	sv_mount "$src" "$SV_TMP/$m" -o "uid=65534,gid=65534,allow_other,timeout=1${extra[$m]}"
	case $m in
	*virtfs) pairs+=("$SV_TMP/link.as-file" "$SV_TMP/$m/$e/link") ;;
	*) pairs+=("$src/$e/small" "$SV_TMP/$m/$e/small" "$src/$e/big" "$SV_TMP/$m/$e/big") ;;
	esac
	[ "$m" != plain ] || pairs+=("$SV_TMP/removed/small" "$SV_TMP/$m/$e/small-removed"
				    "$SV_TMP/removed/big" "$SV_TMP/$m/$e/big-removed")
done

# Once all are open, the two files go from SOURCE; then each operation
# 2 s (twice the timeout) after the one before.
mkfifo "$SV_TMP/go"
as_nobody "$PROBE" handles 2 "${pairs[@]}" <"$SV_TMP/go" >"$SV_TMP/handles.out" & probe=$!
SV_PIDS+=("$probe")
exec {go}>"$SV_TMP/go"
sv_wait_for "$SV_TMP/handles.out" 10
rm "$src/$e/small-removed" "$src/$e/big-removed"
exec {go}>&-
sv_wait_exit "$probe" 60
sed "s|$SV_TMP/||" "$SV_TMP/handles.out"
[ "$SV_STATUS" != 2 ] || sv_fail "svprobe could not read SOURCE"
if [ "$(head -1 "$SV_TMP/handles.out")" != "opened 8" ] || [ "$(grep -c ' ok$' "$SV_TMP/handles.out")" != 8 ]; then
	sv_fail "open files answered otherwise than SOURCE after the timeout (above)"
fi

# The large file's open was read by passthrough where the kernel can.
daemon=${SV_DAEMON_OF[$SV_TMP/plain]}
pt=$(sv_stat_field passthrough "$(sv_stats "$daemon" "$SV_TMP/daemon.plain.log")")
if [ "$pt" = 0 ]; then
	how="through the daemon (this kernel reads no file by passthrough)"
else
	how="by passthrough"
fi
for m in "${modes[@]}"; do
	kill -0 "${SV_DAEMON_OF[$SV_TMP/$m]}" || sv_fail "the $m daemon died"
	sv_unmount "$SV_TMP/$m"
done
sv_pass "8 open files (small, large $how, virtfs link shown as a file; each with and without no_open; small and large removed from SOURCE)" \
	"answer fstat, lseek END/DATA/HOLE, pread, mmap and sendfile as SOURCE does, each 2 s after a 1 s timeout"
