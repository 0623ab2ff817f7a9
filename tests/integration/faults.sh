#!/bin/bash
# Faults: the daemon killed mid-read, the daemon out of fds, and SOURCE's
# filesystem at its limits (full, corrupt, lazily unmounted).  Readers must
# get errors, never hang; the daemon must survive what it can survive; a
# dead view must be recoverable with -o recover_stale.
. "$(dirname "$0")/../lib.sh"
sv_require_fuse
sv_tmpdir

src=$SV_TMP/store mnt=$SV_TMP/view
e=$src/ffffffffffffffffffffffffffffffff-faults
mkdir -p "$e/lib" "$mnt"
head -c 67108864 /dev/urandom >"$e/big"
for i in $(seq 200); do echo "file $i" >"$e/lib/f$i"; done
chmod -R a-w "$src"
faults=0
survived() { faults=$((faults + 1)); sv_pass "$*"; }

# wait_gone SECONDS PID...: true once every PID has exited, false if one is still alive.
wait_gone() {
	local tenths=$(($1 * 10)) p
	shift
	for _ in $(seq "$tenths"); do
		for p in "$@"; do kill -0 "$p" 2>/dev/null && { sleep 0.1; continue 2; }; done
		return 0
	done
	return 1
}

# 1. SIGKILL while readers are reading: they get errors, not a hang, and the
# stale mountpoint is refused, then recovered with -o recover_stale.
sv_mount "$src" "$mnt" -o allow_other
daemon=$SV_DAEMON
readers=()
for flag in direct nocache; do
	(while dd if="$mnt/${e##*/}/big" of=/dev/null bs=1M iflag=$flag status=none; do :; done) \
		2>"$SV_TMP/reader.$flag" & readers+=($!)
done
(while cat "$mnt/${e##*/}/lib/f1" >/dev/null; do :; done) 2>"$SV_TMP/reader.cat" & readers+=($!)
# Mid-read: the daemon has served reads and the readers are still at it.
sv_wait_stat "$daemon" "$SV_LOG" reads 101 >/dev/null
kill -KILL "$daemon"
{ wait "$daemon"; } 2>/dev/null || true
wait_gone 10 "${readers[@]}" || {
	kill -KILL "${readers[@]}" 2>/dev/null || true
	sv_fail "readers still blocked 10 s after the daemon was killed"
}
errs=$(cat "$SV_TMP"/reader.*)
case $errs in *"Transport endpoint is not connected"* | *"Software caused connection abort"*) ;;
	*) sv_fail "readers did not see the dead connection: $errs" ;; esac
out=$(stat "$mnt" 2>&1 || true)
case $out in *"Transport endpoint is not connected"*) ;; *) sv_fail "no stale mountpoint after SIGKILL: $out" ;; esac
set +e
"$STOREVIEW" -f "$src" "$mnt" 2>"$SV_TMP/refused"
status=$?
set -e
{ [ "$status" != 0 ] && grep -q 'holds a dead view' "$SV_TMP/refused"; } || sv_fail "a dead view was not refused ($status): $(cat "$SV_TMP/refused")"
sv_mount "$src" "$mnt" -o allow_other,recover_stale
cmp "$e/big" "$mnt/${e##*/}/big" || sv_fail "recovered view serves other bytes"
grep -q 'unmounted the dead view' "$SV_LOG" || sv_fail "recovery not logged"
survived "SIGKILL mid-read: 3 readers got ENOTCONN/ECONNABORTED within 10 s, the dead view refused, then recovered with -o recover_stale"

# 2. Out of fds: opens fail with EMFILE and nothing else, then work again.
daemon=$SV_DAEMON
files=()
for i in $(seq 200); do files+=("$mnt/${e##*/}/lib/f$i"); done
nfds=$(find /proc/"$daemon"/fd -mindepth 1 | wc -l)
limit=$((nfds + 20))
prlimit --pid "$daemon" --nofile="$limit:$limit"
mkfifo "$SV_TMP/hold.in"
"$PROBE" hold "${files[@]}" <"$SV_TMP/hold.in" >"$SV_TMP/hold.out" &
hold_pid=$!
exec {hold_w}>"$SV_TMP/hold.in"
for _ in $(seq "$SV_WAIT_TENTHS"); do [ -s "$SV_TMP/hold.out" ] && break; sleep 0.1; done
read -r held <"$SV_TMP/hold.out"
read -ra words <<<"$held"
set -- "${words[@]}"
errnos=$(printf '%s\n' "${@:5}" | sort -u | paste -sd,)
echo "holding 200 files with the daemon limited to $limit fds: opened $2, failed $4 with $errnos"
[ "$1 $3" = "opened failed" ] || sv_fail "hold: $held"
{ [ "$2" -gt 0 ] && [ "$4" -gt 0 ]; } || sv_fail "expected some opens to succeed and some to fail: $held"
[ "$errnos" = EMFILE ] || sv_fail "opens failed otherwise than with EMFILE: $errnos"
# Under pressure, a directory never looked up needs a new fd too: an error, not a crash.
ls "$mnt/${e##*/}/lib" >/dev/null 2>"$SV_TMP/ls.err" || true
kill -0 "$daemon" || sv_fail "the daemon died of fd exhaustion"
exec {hold_w}>&-
wait "$hold_pid" || sv_fail "hold failed"
reread=$(sed -n 2p "$SV_TMP/hold.out")
[ "$reread" = "read $2 failed 0" ] || sv_fail "held files unreadable under pressure: $reread"
"$PROBE" noatime-open "${files[@]}" >"$SV_TMP/after-pressure"
[ "$(grep -c ' ok ' "$SV_TMP/after-pressure")" = 200 ] || sv_fail "opens still failing after the pressure ended: $(grep -v ' ok ' "$SV_TMP/after-pressure" | head -3)"
cmp "$e/big" "$mnt/${e##*/}/big" || sv_fail "wrong bytes after fd exhaustion"
survived "fd exhaustion (limit $limit): $4 of 200 opens got EMFILE, the $2 held files stayed readable, all 200 open again once released"
sv_unmount "$mnt"

# 3. SOURCE on a filesystem with no block nor inode left: the view reads it
# all and reports the same free space.  Then that filesystem is lazily
# unmounted under the view: the view holds its own detached clone of SOURCE,
# so it keeps serving the same bytes (never wrong ones) until unmounted.
fsdir=$SV_TMP/tmpfs fmnt=$SV_TMP/fview
mkdir "$fsdir" "$fmnt"
mount -t tmpfs -o size=4m,nr_inodes=64,mode=755 storeview-test "$fsdir"
SV_MOUNTS+=("$fsdir")
mkdir "$fsdir/e"
# The inodes run out first (64), then f1 grows until the blocks do.
for i in $(seq 100); do head -c 32768 /dev/urandom 2>/dev/null >"$fsdir/e/f$i" || break; done
head -c 8388608 /dev/urandom 2>/dev/null >>"$fsdir/e/f1" || true
df_src=$(stat -f -c '%a %d' "$fsdir")
[ "$df_src" = "0 0" ] || sv_fail "could not fill the tmpfs: $df_src (free blocks, free inodes)"
"$PROBE" tree "$fsdir" >"$SV_TMP/full.src"
sv_mount "$fsdir" "$fmnt" -o allow_other
fdaemon=$SV_DAEMON
"$PROBE" tree "$fmnt" >"$SV_TMP/full.view"
diff -u "$SV_TMP/full.src" "$SV_TMP/full.view" || sv_fail "full SOURCE differs through the view"
[ "$(stat -f -c '%a %d' "$fmnt")" = "0 0" ] || sv_fail "view's statfs differs from the full SOURCE: $(stat -f -c '%a %d' "$fmnt")"
exec {held}<"$fmnt/e/f1"
umount -l "$fsdir"
grep -qs " $fsdir " /proc/self/mounts && sv_fail "tmpfs still mounted"
"$PROBE" tree "$fmnt" >"$SV_TMP/gone.view"
diff -u "$SV_TMP/full.src" "$SV_TMP/gone.view" || sv_fail "the view changed after SOURCE's filesystem was unmounted"
cmp - "$fmnt/e/f1" <&"$held" || sv_fail "a held file changed"
exec {held}<&-
kill -0 "$fdaemon" || sv_fail "daemon died"
sv_unmount "$fmnt"
survived "SOURCE on a full tmpfs (0 blocks, 0 inodes free): $(wc -l <"$SV_TMP/full.view") entries identical, statfs passed through; lazily unmounted underneath: the view kept serving the same tree"

# 4. SOURCE's filesystem reports corruption: that file's reads fail with its
# error (EUCLEAN), the others read fine, the daemon keeps running.
img=$SV_TMP/ext4.img imnt=$SV_TMP/ext4 iview=$SV_TMP/iview
if ! command -v mkfs.ext4 >/dev/null || ! command -v debugfs >/dev/null || ! losetup -f >/dev/null 2>&1; then
	echo "skipped part 4: needs mkfs.ext4, debugfs and a free loop device"
else
	mkdir "$imnt" "$iview"
	truncate -s 16M "$img"
	mkfs.ext4 -q -b 4096 "$img"
	loop=$(losetup -f --show "$img")
	mount "$loop" "$imnt"
	mkdir "$imnt/e"
	head -c 200000 /dev/urandom >"$imnt/e/corrupt"
	head -c 200000 /dev/urandom >"$imnt/e/sound"
	umount "$imnt"
	# The first extent of "corrupt" now points far beyond the filesystem.
	debugfs -w -R "sif /e/corrupt block[5] 0x7fffff" "$loop" 2>/dev/null
	mount -o ro,errors=continue "$loop" "$imnt"
	losetup -d "$loop"	# autoclear once unmounted
	SV_MOUNTS+=("$imnt")
	sv_mount "$imnt" "$iview" -o allow_other
	idaemon=$SV_DAEMON
	"$PROBE" noatime-open "$imnt/e/corrupt" "$imnt/e/sound" | sed "s|$imnt|X|" >"$SV_TMP/corrupt.src"
	"$PROBE" noatime-open "$iview/e/corrupt" "$iview/e/sound" | sed "s|$iview|X|" >"$SV_TMP/corrupt.view"
	grep -Eq '^X/e/corrupt (err |ok readerr:)EUCLEAN$' "$SV_TMP/corrupt.src" || sv_fail "control: corruption not seen in SOURCE: $(cat "$SV_TMP/corrupt.src")"
	diff -u "$SV_TMP/corrupt.src" "$SV_TMP/corrupt.view" || sv_fail "the view answers the corrupt filesystem otherwise than SOURCE"
	kill -0 "$idaemon" || sv_fail "daemon died"
	sv_unmount "$iview"
	umount "$imnt"
	how=$(sed -n 's|^X/e/corrupt ||p' "$SV_TMP/corrupt.view")
	survived "SOURCE's ext4 reports corruption: the file fails as in SOURCE through the view ($how), a sound file reads the same"
fi
echo "faults injected and survived: $faults"
