#!/bin/bash
# The daemon's life: bad input is a one-line error with nothing mounted; a
# daemonizing storeview returns only once the view works; SIGTERM and
# SIGINT unmount it, also when it was started with relative paths.
. "$(dirname "$0")/../lib.sh"
sv_require_fuse
sv_tmpdir

cd "$SV_TMP"
mkdir -p store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-e view busy other
echo content >store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-e/file
echo x >afile
chmod -R a-w store
SV_MOUNTS+=("$SV_TMP/view" "$SV_TMP/busy" "$SV_TMP/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-e")

# expect_error STATUS MESSAGE ARGS...: storeview fails with that status and
# exactly that one line, and nothing is mounted.
expect_error() {
	local status=$1 message=$2 out rc=0
	shift 2
	out=$("$STOREVIEW" "$@" 2>&1) || rc=$?
	[ "$rc" = "$status" ] || sv_fail "storeview $*: exit $rc, expected $status ($out)"
	[ "$out" = "storeview: $message" ] || sv_fail "storeview $*: said '$out', expected 'storeview: $message'"
	! grep -qs " $SV_TMP/[^ ]* fuse.storeview " /proc/self/mounts || sv_fail "storeview $*: left a mount behind"
}

mount -t tmpfs -o size=1m tmpfs busy
expect_error 1 "SOURCE '$SV_TMP/nowhere': No such file or directory" nowhere view
expect_error 1 "SOURCE '$SV_TMP/afile': not a directory" afile view
expect_error 1 "MOUNTPOINT '$SV_TMP/nowhere': No such file or directory" store nowhere
expect_error 1 "MOUNTPOINT '$SV_TMP/afile' is not a directory" store afile
expect_error 1 "MOUNTPOINT '$SV_TMP/busy' is busy: something is already mounted there" store busy
expect_error 1 "MOUNTPOINT '$SV_TMP/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-e' lies inside SOURCE '$SV_TMP/store': the view would contain itself" \
	store store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-e
expect_error 1 "unknown user 'no-such-user-storeview' in uid=" -o uid=no-such-user-storeview store view
expect_error 1 "unknown group 'no-such-group-storeview' in gid=" -o gid=no-such-group-storeview store view
expect_error 1 "unknown option 'frobnicate'" -o ro,frobnicate store view
expect_error 1 "missing MOUNTPOINT (see --help)" store
umount busy
sv_pass "bad SOURCE, MOUNTPOINT, user, group and options: one-line errors, exit 1, nothing mounted"

# Daemon mode with relative paths: mounted when storeview returns.  SIGINT
# back to its default, as libfuse leaves an inherited SIG_IGN alone (a
# harness that started this script in the background ignores it).
env --default-signal=INT "$STOREVIEW" -o uid=65534,allow_other store view
sv_is_mounted "$SV_TMP/view" || sv_fail "storeview returned before the view was mounted"
[ "$(as_nobody cat view/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-e/file)" = content ] || sv_fail "view unreadable"
grep -q "^$SV_TMP/store $SV_TMP/view fuse.storeview ro,nosuid,nodev" /proc/self/mounts ||
	sv_fail "mount entry: $(grep storeview /proc/self/mounts)"
pid=$(pgrep -f "storeview -o uid=65534,allow_other store view")
kill -INT "$pid"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$pid" 2>/dev/null && sv_fail "daemon still running after SIGINT"
sv_is_mounted "$SV_TMP/view" && sv_fail "SIGINT left the view mounted"
sv_pass "daemon mode: returns once mounted (ro,nosuid,nodev, fsname=SOURCE); SIGINT unmounts even with relative paths"

# Foreground: the fd limit goes up to the hard one; SIGTERM unmounts;
# SIGUSR1 logs the counters.  (A script's
# background jobs start with SIGINT ignored, which libfuse respects.)
ulimit -Sn 256
sv_mount "$SV_TMP/store" "$SV_TMP/view" -o uid=65534
cat view/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-e/file >/dev/null
read -r soft hard < <(awk '/^Max open files/ {print $4, $5}' "/proc/$SV_DAEMON/limits")
# valgrind keeps fds of its own above its client's limit: /proc shows its.
[ "$soft" = "$hard" ] || [ -n "${STOREVIEW_WRAPPER:-}" ] ||
	sv_fail "fd limit not raised to the hard limit: soft $soft, hard $hard"
# Only the main thread takes SIGTERM and SIGINT: it waits for them in the
# request loop, and a helper thread that caught one would leave it waiting.
# (valgrind runs threads of its own.)
if [ -z "${STOREVIEW_WRAPPER:-}" ]; then
	stop_bits=$(((1 << (15 - 1)) | (1 << (2 - 1))))
	threads=0
	for task in /proc/"$SV_DAEMON"/task/*; do
		blocked=$((16#$(awk '/^SigBlk:/ {print $2}' "$task/status") & stop_bits))
		if [ "${task##*/}" = "$SV_DAEMON" ]; then
			[ "$blocked" = 0 ] || sv_fail "the daemon's main thread blocks SIGTERM or SIGINT"
		else
			[ "$blocked" = "$stop_bits" ] ||
				sv_fail "daemon thread $(cat "$task/comm") can take SIGTERM or SIGINT"
			threads=$((threads + 1))
		fi
	done
	[ "$threads" -ge 4 ] || sv_fail "only $threads helper threads: the check above saw too few"
fi
kill -USR1 "$SV_DAEMON"
for _ in $(seq 100); do grep -q 'stats:' "$SV_LOG" && break; sleep 0.05; done
grep -q 'stats: lookups=[1-9][0-9]* opens=1 ' "$SV_LOG" || sv_fail "SIGUSR1: $(cat "$SV_LOG")"
kill -TERM "$SV_DAEMON"
wait "$SV_DAEMON" || sv_fail "daemon exit status $? after SIGTERM"
sv_is_mounted "$SV_TMP/view" && sv_fail "SIGTERM left the view mounted"
sv_pass "foreground: fd limit raised to the hard limit ($hard), only the main thread takes SIGTERM/SIGINT, SIGUSR1 logs counters, SIGTERM unmounts and exits 0"
