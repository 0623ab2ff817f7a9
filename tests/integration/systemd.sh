#!/bin/bash
# The systemd units: `systemd-analyze verify` accepts every shipped unit,
# and the unit generated from the README's fstab line, without a word; the
# template's ExecStart, run as systemd would with an instance's settings,
# says READY=1 once the view works, re-reads its closure on reload, leaves
# no dead view when it is killed (ExecStopPost), comes back on restart, and
# stops on SIGTERM with STOPPING=1 and status 0.
. "$(dirname "$0")/../lib.sh"
command -v systemd-analyze >/dev/null || sv_skip "needs systemd-analyze (Debian package systemd)"
: "${SVNOTIFY:?SVNOTIFY must name the svnotify helper}"
: "${top_srcdir:?top_srcdir must name the source tree}"
sv_tmpdir

docs=$top_srcdir/doc
units=$SV_TMP/units
mkdir -p "$units" "$SV_TMP/man/man1" "$SV_TMP/etc/storeview"
# The units as `make install` would write them, pointing at this build.
subst() {
	sed -e "s|@bindir@|$(dirname "$STOREVIEW")|g" -e "s|@sysconfdir@|$SV_TMP/etc|g" \
		-e "s|@systemdsystemunitdir@|$units|g" "$1"
}
subst "$docs/storeview@.service.in" >"$units/storeview@.service"
cp "$units/storeview@.service" "$units/storeview@test.service"
cp "$docs/run-storeview.mount" "$units/"
# verify checks Documentation=man:storeview(1) with man(1), if there is one.
subst "$docs/storeview.1.in" >"$SV_TMP/man/man1/storeview.1"
export MANPATH=$SV_TMP/man:
man_check=
command -v man >/dev/null || man_check=--man=no

# verify_quiet UNIT [OPTION...]: passes only if systemd-analyze has nothing to say.
verify_quiet() {
	local out rc=0
	out=$(cd "$(dirname "$1")" && systemd-analyze verify "${@:2}" "./$(basename "$1")" 2>&1) || rc=$?
	{ [ "$rc" = 0 ] && [ -z "$out" ]; } || sv_fail "systemd-analyze verify $(basename "$1") (status $rc): $out"
}
for u in storeview@.service storeview@test.service run-storeview.mount; do
	verify_quiet "$units/$u" ${man_check:+"$man_check"}
done
sv_pass "systemd-analyze verify ${man_check:+$man_check (no man(1)) }of storeview@.service, an instance of it, run-storeview.mount"

# The README's fstab line, through systemd's own fstab generator.
generator=/lib/systemd/system-generators/systemd-fstab-generator
if [ -x "$generator" ]; then
	mkdir "$SV_TMP/gen"
	echo '/nix/store /run/storeview fuse.storeview ro,uid=qemu,gid=kvm,allow_other,nofail,x-systemd.requires=local-fs.target 0 0' \
		>"$SV_TMP/fstab"
	SYSTEMD_FSTAB=$SV_TMP/fstab "$generator" "$SV_TMP/gen" "$SV_TMP/gen" "$SV_TMP/gen"
	[ -f "$SV_TMP/gen/run-storeview.mount" ] || sv_fail "the fstab generator made no run-storeview.mount"
	grep -qx 'Type=fuse.storeview' "$SV_TMP/gen/run-storeview.mount" || sv_fail "generated unit lacks the type"
	# Its Documentation= is systemd's, whose man pages may not be installed.
	verify_quiet "$SV_TMP/gen/run-storeview.mount" --man=no
	sv_pass "the README's fstab line gives a mount unit that systemd-analyze verify accepts"
fi

# The rest mounts.
sv_require_fuse
src=$SV_TMP/store mnt=$SV_TMP/view
e=0c8y7w4ihxq4i2r1n5bjbyq0m1gz0kxa-hello-2.12
sv_make_store "$src"
for v in SOURCE MOUNTPOINT OPTIONS; do
	grep -q "^$v=" "$docs/example.conf" || sv_fail "example.conf does not show $v="
done
f=3x4d0kd7n0h3wjvh1g43r6w9z9nls0vz-lib-1.0
echo "$src/$e" >"$SV_TMP/closure"
cat >"$SV_TMP/etc/storeview/test.conf" <<EOF
SOURCE=$src
MOUNTPOINT=$mnt
OPTIONS=-o uid=65534,gid=65534,allow_other -o closure=$SV_TMP/closure
EOF

# EnvironmentFile= as systemd reads it: KEY=VALUE, the rest of the line.
while IFS= read -r line; do
	case $line in '' | '#'*) continue ;; esac
	declare "${line%%=*}=${line#*=}"
done <"$SV_TMP/etc/storeview/test.conf"
# ExecStart as systemd expands it: $OPTIONS split into words, ${X} one word.
execstart=$(sed -n 's/^ExecStart=//p' "$units/storeview@test.service")
declare -a start stop_post reload_cmd	# filled by eval
eval "start=($execstart)"
[ "${start[0]}" = "$STOREVIEW" ] || sv_fail "ExecStart runs ${start[0]}, not $STOREVIEW"
# ExecStartPre makes the mountpoint, which a reboot removes from /run.
pre=$(sed -n 's/^ExecStartPre=//p' "$units/storeview@test.service")
eval "$pre"
[ -d "$mnt" ] || sv_fail "ExecStartPre ($pre) did not make MOUNTPOINT"
# ExecStopPost, with systemd's \$\$ for a literal \$.
stoppost=$(sed -n 's/^ExecStopPost=//p' "$units/storeview@test.service" | sed 's/\$\$/$/g')
eval "stop_post=($stoppost)"
reload=$(sed -n 's/^ExecReload=//p' "$units/storeview@test.service")
notify=true
ldd "$STOREVIEW" | grep libsystemd >/dev/null || notify=false

# start_unit: runs ExecStart like systemd, with a NOTIFY_SOCKET, and waits for READY=1.
start_unit() {
	env --default-signal=INT NOTIFY_SOCKET="$SV_TMP/notify.sock" "$@" 2>>"$SV_TMP/unit.log" &
	SV_DAEMON=$!
	SV_PIDS+=("$SV_DAEMON")
	SV_MOUNTS+=("$mnt")
	if $notify; then
		for _ in $(seq 100); do
			grep -q '^READY=1$' "$SV_TMP/notify.out" 2>/dev/null && break
			sleep 0.1
		done
		grep -q '^READY=1$' "$SV_TMP/notify.out" || sv_fail "no READY=1: $(cat "$SV_TMP/unit.log")"
		# Said only once the view works.
		sv_is_mounted "$mnt" || sv_fail "READY=1 before the view was mounted"
	else
		for _ in $(seq 100); do sv_is_mounted "$mnt" && break; sleep 0.1; done
	fi
	out=$(cd "$mnt" && as_nobody "$PROBE" noatime-open "$e/share/doc/README")
	case $out in *" ok "*) ;; *) sv_fail "the unit's view does not serve nobody: $out" ;; esac
}

if $notify; then
	"$SVNOTIFY" "$SV_TMP/notify.sock" 60 >"$SV_TMP/notify.out" &
	listener=$!
	SV_PIDS+=("$listener")
	for _ in $(seq 50); do [ -S "$SV_TMP/notify.sock" ] && break; sleep 0.1; done
fi
start_unit "${start[@]}"
if $notify; then
	grep -qx "STATUS=serving $src at $mnt" "$SV_TMP/notify.out" || sv_fail "no STATUS=: $(cat "$SV_TMP/notify.out")"
	: >"$SV_TMP/notify.out"
fi
sv_pass "ExecStart with the instance's settings: $($notify && echo "READY=1 after mounting, " || echo "built without libsystemd, ")view serves nobody"

# systemctl reload: ExecReload, with $MAINPID, re-reads the closure.
names() { find "$mnt" -mindepth 1 -maxdepth 1 -printf '%f\n'; }
[ "$(names)" = "$e" ] || sv_fail "closure not applied: $(names)"
printf '%s\n%s\n' "$src/$e" "$src/$f" >"$SV_TMP/closure"
# shellcheck disable=SC2034 # ExecReload's $MAINPID, expanded by the eval below
MAINPID=$SV_DAEMON
eval "reload_cmd=($reload)"
"${reload_cmd[@]}" || sv_fail "ExecReload ($reload) failed"
for _ in $(seq 50); do [ "$(names | wc -l)" = 2 ] && break; sleep 0.1; done
[ "$(names | wc -l)" = 2 ] || sv_fail "reload did not show the new closure: $(names; cat "$SV_TMP/unit.log")"
sv_pass "ExecReload (\$MAINPID) re-reads the closure: 1 entry, then 2"

# A crash leaves a dead view, which ExecStopPost detaches; Restart= mounts afresh.
kill -KILL "$SV_DAEMON"
sv_wait_exit "$SV_DAEMON" 10
# The kernel may list the root from its cache; statfs always asks the daemon.
! stat -f "$mnt" >/dev/null 2>&1 || sv_fail "no dead view to test ExecStopPost with"
"${stop_post[@]}" || sv_fail "ExecStopPost failed after a crash"
! sv_is_mounted "$mnt" || sv_fail "ExecStopPost left the dead view mounted"
ls "$mnt" >/dev/null || sv_fail "ExecStopPost left a dead view"
start_unit "${start[@]}"
sv_pass "after SIGKILL, ExecStopPost detaches the dead view; the restart mounts it again"

# ExecStopPost leaves alone what is not a storeview view.
mkdir "$SV_TMP/other"
mount -t tmpfs storeview-test "$SV_TMP/other"
other_post=("${stop_post[@]}")
other_post[${#other_post[@]}-1]=$SV_TMP/other
"${other_post[@]}" || sv_fail "ExecStopPost failed on a tmpfs"
grep -qs " $SV_TMP/other tmpfs " /proc/self/mounts || sv_fail "ExecStopPost unmounted a tmpfs"
umount "$SV_TMP/other"

# systemctl stop: SIGTERM, STOPPING=1, status 0, nothing mounted.
kill -TERM "$SV_DAEMON"
sv_wait_exit "$SV_DAEMON" 10
[ "$SV_STATUS" = 0 ] || sv_fail "stopped unit exited $SV_STATUS: $(cat "$SV_TMP/unit.log")"
! sv_is_mounted "$mnt" || sv_fail "stopped unit left its view mounted"
"${stop_post[@]}" || sv_fail "ExecStopPost failed after a clean stop"
if $notify; then
	sv_wait_exit "$listener" 10
	grep -qx 'STOPPING=1' "$SV_TMP/notify.out" || sv_fail "no STOPPING=1: $(cat "$SV_TMP/notify.out")"
fi
sv_pass "SIGTERM stops the unit: $($notify && echo "STOPPING=1, ")status 0, view unmounted"
