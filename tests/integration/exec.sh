#!/bin/bash
# storeview exec: a private view that lives exactly as long as one command.
# The command gets the view's path in place of {view} and in
# $STOREVIEW_MOUNT; its exit status is storeview's; the view is unmounted
# and its mountpoint removed however the command, the daemon or the wrapper
# ends.
. "$(dirname "$0")/../lib.sh"
sv_require_fuse
sv_tmpdir

src=$SV_TMP/store
sv_make_store "$src"
e=0c8y7w4ihxq4i2r1n5bjbyq0m1gz0kxa-hello-2.12
runs=$SV_TMP/runs
mkdir "$runs"
# shellcheck disable=SC2054 # the commas separate mount options
opts=(--dir "$runs" -o uid=65534,gid=65534,allow_other)

# no_leftovers LABEL: after every run, nothing is left in $runs.
no_leftovers() {
	! grep -qs " $runs/" /proc/self/mounts || sv_fail "$1: a view is still mounted under $runs"
	[ -z "$(ls -A "$runs")" ] || sv_fail "$1: left behind in $runs: $(ls -A "$runs")"
}

# 1. Success: the unprivileged command opens with O_NOATIME through {view}.
#    storeview's --name=value options reach the daemon too.
rc=0
"$STOREVIEW" exec --dir "$runs" --uid=65534 --gid=65534 -o allow_other "$src" -- \
	"${SV_NOBODY[@]}" "$PROBE" noatime-open \
	"{view}/$e/share/doc/README" "{view}/$e/bin/hello" >"$SV_TMP/view.open" 2>"$SV_TMP/exec.err" || rc=$?
[ "$rc" = 0 ] || sv_fail "exec of a succeeding command exited $rc: $(cat "$SV_TMP/exec.err")"
[ ! -s "$SV_TMP/exec.err" ] || sv_fail "exec of a succeeding command was not quiet: $(cat "$SV_TMP/exec.err")"
(cd "$src" && as_nobody "$PROBE" noatime-open "$e/share/doc/README") | grep ' err EPERM$' >/dev/null ||
	sv_fail "nobody's O_NOATIME open of SOURCE itself was not refused"
sed "s|^$runs/storeview-[^/]*/||" "$SV_TMP/view.open" >"$SV_TMP/view.rel"
(cd "$src" && "$PROBE" noatime-open "$e/share/doc/README" "$e/bin/hello") >"$SV_TMP/root.open"
diff -u "$SV_TMP/root.open" "$SV_TMP/view.rel" || sv_fail "the command did not read SOURCE's bytes through {view}"
no_leftovers "succeeding command"
# Asked with -d, the daemon logs its counters at exit.
"$STOREVIEW" exec --dir "$runs" -d -o uid=65534,gid=65534,allow_other "$src" -- \
	"${SV_NOBODY[@]}" "$PROBE" noatime-open "{view}/$e/share/doc/README" "{view}/$e/bin/hello" \
	>/dev/null 2>"$SV_TMP/exec.err" || sv_fail "exec -d: $(cat "$SV_TMP/exec.err")"
grep -q 'stats: .* noatime_dropped=2 ' "$SV_TMP/exec.err" ||
	sv_fail "exec -d: the daemon did not log dropping O_NOATIME twice: $(cat "$SV_TMP/exec.err")"
no_leftovers "succeeding command under -d"
sv_pass "exec: nobody's O_NOATIME opens through {view} succeed (EPERM on SOURCE), status 0, nothing on stderr, counters under -d, view gone"

# 2. {view} inside an argument and $STOREVIEW_MOUNT name the same mounted view.
# shellcheck disable=SC2016 # expanded by the inner sh
out=$("$STOREVIEW" exec "${opts[@]}" "$src" -- sh -c \
	'grep " $STOREVIEW_MOUNT fuse.storeview " /proc/self/mounts >/dev/null && echo "$1 $STOREVIEW_MOUNT"' \
	sh "local,path={view},mount_tag=store" 2>/dev/null)
case $out in
"local,path=$runs/storeview-"*",mount_tag=store $runs/storeview-"*) ;;
*) sv_fail "placeholder or variable wrong: '$out'" ;;
esac
{ [ "${out#local,path=}" != "$out" ] && v=${out#local,path=} && [ "${v%%,*}" = "${out##* }" ]; } ||
	sv_fail "{view} and \$STOREVIEW_MOUNT differ: '$out'"
no_leftovers "placeholder"
sv_pass "exec: {view} substituted inside an argument, equal to \$STOREVIEW_MOUNT, a mounted fuse.storeview"

# 3. The command's status is storeview's: a failure, and death by a signal.
rc=0
"$STOREVIEW" exec "${opts[@]}" "$src" -- sh -c 'exit 3' 2>/dev/null || rc=$?
[ "$rc" = 3 ] || sv_fail "command exiting 3 gave status $rc"
no_leftovers "failing command"
rc=0
"$STOREVIEW" exec "${opts[@]}" "$src" -- sh -c 'kill -KILL $$' 2>/dev/null || rc=$?
[ "$rc" = 137 ] || sv_fail "command killed by SIGKILL gave status $rc, expected 137"
no_leftovers "killed command"
sv_pass "exec: status 3 passed through, 137 for a command killed by SIGKILL, view gone each time"

# 4. The wrapper's own failures: 127 not found, 126 not runnable, 125 bad
#    option or SOURCE (nothing mounted).
printf 'not a program\n' >"$SV_TMP/plain"
chmod 644 "$SV_TMP/plain"
for want in "127 storeview-no-such-command" "126 $SV_TMP/plain" \
	"125 -o no_such_option $src" "125 $SV_TMP/missing" "125 $src extra-arg"; do
	read -ra words <<<"$want"
	set -- "${words[@]}"
	code=$1
	shift
	case $code in
	12[67]) args=("${opts[@]}" "$src" -- "$@") ;;
	*) args=("${opts[@]}" "$@" -- true) ;;
	esac
	rc=0
	"$STOREVIEW" exec "${args[@]}" 2>"$SV_TMP/err" || rc=$?
	[ "$rc" = "$code" ] || sv_fail "exec ${args[*]}: status $rc, expected $code"
	[ "$(grep -cv '^storeview: stats:' "$SV_TMP/err")" -ge 1 ] || sv_fail "exec ${args[*]}: no error message"
	no_leftovers "exec ${args[*]}"
done
grep -q "unexpected argument 'extra-arg'" "$SV_TMP/err" || sv_fail "unclear message: $(cat "$SV_TMP/err")"
sv_pass "exec: 127 command not found, 126 not executable, 125 bad option/SOURCE/argument, nothing left"

# exec_bg [TRACER...]: starts a wrapper (under TRACER if given, whose pid is
# then $tracer) whose command records its pid and view, and waits.
exec_bg() {
	rm -f "$SV_TMP/cmd.pid" "$SV_TMP/cmd.view"
	# shellcheck disable=SC2016 # expanded by the inner sh
	"$@" "$STOREVIEW" exec "${opts[@]}" "$src" -- sh -c \
		'echo "$STOREVIEW_MOUNT" >"$1.view"; echo $$ >"$1.pid"; exec sleep 60' sh "$SV_TMP/cmd" \
		2>"$SV_TMP/bg.err" &
	wrapper=$!
	SV_PIDS+=("$wrapper")
	sv_wait_for "$SV_TMP/cmd.pid" 10
	if [ $# -gt 0 ]; then
		tracer=$wrapper
		wrapper=$(pgrep -P "$tracer")
	fi
	cmd=$(cat "$SV_TMP/cmd.pid")
	view=$(cat "$SV_TMP/cmd.view")
	SV_PIDS+=("$cmd")
	sv_is_mounted "$view" || sv_fail "no view mounted at $view while the command runs"
	# The daemon is the wrapper's other child.
	daemon=$(pgrep -P "$wrapper" | grep -vx "$cmd")
	[ -n "$daemon" ] || sv_fail "cannot find the daemon child of $wrapper"
}

# 5. SIGUSR1 to the wrapper has the daemon log its counters, and stops
#    nothing; SIGTERM to the wrapper reaches the command; the view goes.
exec_bg
kill -USR1 "$wrapper"
sv_wait_for "$SV_TMP/bg.err" 10
grep -q '^storeview: stats: lookups=' "$SV_TMP/bg.err" || sv_fail "SIGUSR1 to the wrapper: $(cat "$SV_TMP/bg.err")"
{ kill -0 "$wrapper" && kill -0 "$cmd" && kill -0 "$daemon"; } || sv_fail "SIGUSR1 to the wrapper stopped something"
sv_pass "exec: SIGUSR1 to the wrapper: the daemon's counters on stderr, everything still running"
kill -TERM "$wrapper"
sv_wait_exit "$wrapper" 15
[ "$SV_STATUS" = 143 ] || sv_fail "wrapper sent SIGTERM exited $SV_STATUS, expected 143"
kill -0 "$cmd" 2>/dev/null && sv_fail "the command survived the forwarded SIGTERM"
no_leftovers "SIGTERM to the wrapper"
sv_pass "exec: SIGTERM forwarded to the command, status 143, view gone"

# 6. The daemon dies (SIGKILL) while the command runs: reported, command
#    stopped, dead mount detached, nothing hangs.
exec_bg
kill -KILL "$daemon"
sv_wait_exit "$wrapper" 15
[ "$SV_STATUS" = 125 ] || sv_fail "wrapper whose daemon died exited $SV_STATUS, expected 125"
grep -q "the view at $view died (daemon killed by signal 9" "$SV_TMP/bg.err" ||
	sv_fail "the daemon's death was not reported: $(cat "$SV_TMP/bg.err")"
kill -0 "$cmd" 2>/dev/null && sv_fail "the command still runs on a dead view"
no_leftovers "daemon killed"
sv_pass "exec: daemon killed by SIGKILL: reported, command stopped, status 125, view gone"

# 7. The wrapper itself is killed with SIGKILL: the daemon notices, unmounts
#    and removes the mountpoint (the command, orphaned, is ours to stop).
exec_bg
kill -KILL "$wrapper"
sv_wait_exit "$wrapper" 5
# The daemon's last act is removing the mountpoint: wait for that too (an
# ASan run once found the directory still there after the pid was gone).
for _ in $(seq 100); do
	kill -0 "$daemon" 2>/dev/null || [ -e "$view" ] || break
	sleep 0.1
done
kill -0 "$daemon" 2>/dev/null && sv_fail "the daemon outlived its SIGKILLed wrapper by 10 s"
kill "$cmd"
no_leftovers "wrapper killed (daemon said: $(cat "$SV_TMP/bg.err"))"
sv_pass "exec: wrapper killed by SIGKILL: the daemon unmounted and removed $view"

# 7b. A killed wrapper hands its daemon to each of its threads in turn, and
#     PR_SET_PDEATHSIG's SIGTERM comes again with each: one arriving while
#     the daemon tears down must not stop it before it removes the
#     mountpoint (CI once found one left so).  strace sends it as the
#     daemon unmounts the view, the step before it removes the mountpoint.
if ! command -v strace >/dev/null; then
	echo "skip: exec: a second SIGTERM in the teardown: needs strace"
else
	: >"$SV_TMP/bg.err"
	exec_bg strace -f -qq -o "$SV_TMP/strace" -e trace=umount2 -e inject=umount2:signal=SIGTERM
	kill -KILL "$wrapper"
	for _ in $(seq 100); do
		kill -0 "$daemon" 2>/dev/null || [ -e "$view" ] || break
		sleep 0.1
	done
	kill "$cmd"
	sv_wait_exit "$tracer" 10
	{ grep -q "^[0-9]* *umount2(\"$view\"" "$SV_TMP/strace" && grep -q 'SIGTERM.*SI_KERNEL' "$SV_TMP/strace"; } ||
		sv_fail "the daemon never reached its unmount: $(cat "$SV_TMP/strace" "$SV_TMP/bg.err")"
	no_leftovers "a second SIGTERM in the teardown (daemon said: $(cat "$SV_TMP/bg.err"))"
	sv_pass "exec: a SIGTERM as the daemon unmounts: $view still removed"
fi

# 8. Without --dir, root's view goes under /run, not its private
#    $XDG_RUNTIME_DIR, and nobody can use it.
mkdir -m 700 "$SV_TMP/xdg"
# shellcheck disable=SC2016 # expanded by the inner sh
out=$(XDG_RUNTIME_DIR=$SV_TMP/xdg "$STOREVIEW" exec -o uid=65534,allow_other "$src" -- \
	sh -c 'echo "$STOREVIEW_MOUNT"; "$@"' sh "${SV_NOBODY[@]}" "$PROBE" noatime-open "{view}/$e/share/doc/README" \
	2>/dev/null)
case $out in "/run/storeview-"*" ok "*) ;; *) sv_fail "not under /run or not usable by nobody: $out" ;; esac
[ ! -e "${out%%$'\n'*}" ] || sv_fail "${out%%$'\n'*} left behind"
sv_pass "exec: root's mountpoint under /run (despite \$XDG_RUNTIME_DIR), usable by nobody, removed afterwards"
