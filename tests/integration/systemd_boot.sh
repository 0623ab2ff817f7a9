#!/bin/bash
# The units under a real systemd: a container booted by systemd-nspawn from
# this machine's own /usr, with this build's `make install` bound over
# /usr/local (or, with SV_INSTALLED=1, the storeview installed in /usr, as
# a package puts it there), starts, reloads, restarts and stops
# storeview@test.service and run-storeview.mount as installed:
#   - `systemctl start` of the Type=notify template returns once the view
#     answers nobody, with the daemon's STATUS= text;
#   - `systemctl reload` re-reads the closure: a newly listed path appears,
#     a removed one vanishes, the same daemon serving;
#   - a SIGKILLed daemon is restarted by systemd, its dead view detached
#     before the new one is mounted: one live view, NRestarts=1;
#   - `systemctl stop` unmounts and leaves no process; a failed start
#     leaves another filesystem at the mountpoint alone;
#   - run-storeview.mount (Type=fuse.storeview, through mount.fuse3) starts
#     with its shipped options and stops, its daemon gone with it.
# The container, and every process and mount in it, is gone when the test
# ends, however it ends.
. "$(dirname "$0")/../lib.sh"
sv_require_fuse
command -v systemd-nspawn >/dev/null || sv_skip "needs systemd-nspawn (Debian package systemd-container)"
command -v nsenter >/dev/null || sv_skip "needs nsenter (util-linux)"
[ -z "${STOREVIEW_WRAPPER:-}" ] || sv_skip "systemd runs the installed daemon, not under '$STOREVIEW_WRAPPER'"
[ ! -d /run/systemd/system ] || sv_skip "PID 1 is systemd: this test boots its own in a container and expects none on the host"
sv_tmpdir

e=0c8y7w4ihxq4i2r1n5bjbyq0m1gz0kxa-hello-2.12
f=3x4d0kd7n0h3wjvh1g43r6w9z9nls0vz-lib-1.0
store=$SV_TMP/store
sv_make_store "$store"
# Files the test changes while the container runs, seen there at /srv/test.
mkdir "$SV_TMP/shared"

boot_args=()
if [ "${SV_INSTALLED:-0}" = 1 ]; then
	prefix=/usr
	[ -x /usr/bin/storeview ] || sv_fail "SV_INSTALLED=1 but no /usr/bin/storeview"
	# Nothing of /usr/local (another build's storeview) may stand in for it.
	boot_args+=(--tmpfs=/usr/local)
	what="the installed package"
else
	prefix=/usr/local
	: "${top_builddir:?top_builddir must name the build tree}"
	stage=$SV_TMP/stage
	make -s -C "$top_builddir" install DESTDIR="$stage" \
		systemdsystemunitdir=/usr/local/lib/systemd/system >"$SV_TMP/install.log" 2>&1 ||
		sv_fail "make install DESTDIR=$stage failed: $(cat "$SV_TMP/install.log")"
	[ -x "$stage/usr/local/bin/storeview" ] ||
		sv_skip "this build is not configured with --prefix=/usr/local, which the test binds over /usr/local"
	boot_args+=(--bind-ro="$stage/usr/local:/usr/local")
	what="make install DESTDIR=$stage"
fi
binary=$prefix/bin/storeview
ldd "${stage:-}$binary" | grep libsystemd >/dev/null ||
	sv_skip "$binary is built without libsystemd: its Type=notify unit could never start"

machine=storeview-${SV_TMP##*.}
# A machine id makes it no first boot, on which systemd would enable (and
# start) every unit of /usr; its own network keeps it off the host's ports.
tr -d - </proc/sys/kernel/random/uuid >"$SV_TMP/machine-id"
systemd-nspawn -q -D / --volatile=yes --register=no --keep-unit --machine="$machine" \
	--private-network --bind-ro="$SV_TMP/machine-id:/etc/machine-id" \
	--bind=/dev/fuse --bind-ro="$store:/nix/store" --bind="$SV_TMP/shared:/srv/test" \
	"${boot_args[@]}" --console=pipe --boot \
	systemd.mask=systemd-firstboot.service systemd.mask=systemd-machine-id-commit.service \
	</dev/null >"$SV_TMP/boot.log" 2>&1 &
nspawn=$!
SV_PIDS+=("$nspawn")
# The container's systemd, its leader: killing it ends the container with
# every process in it, and with them its mounts.
leader=
for _ in $(seq 100); do
	leader=$(awk '{ print $1 }' "/proc/$nspawn/task/$nspawn/children" 2>/dev/null || true)
	[ -n "$leader" ] && [ "$(cat "/proc/$leader/comm" 2>/dev/null)" = systemd ] && break
	kill -0 "$nspawn" 2>/dev/null || sv_fail "systemd-nspawn ended: $(cat "$SV_TMP/boot.log")"
	sleep 0.1
done
[ "$(cat "/proc/$leader/comm" 2>/dev/null)" = systemd ] || sv_fail "no systemd started in the container: $(cat "$SV_TMP/boot.log")"
SV_UNDO+=("kill -KILL $leader 2>/dev/null")

# ct COMMAND...: runs COMMAND in the container.
ct() { nsenter -t "$leader" -a -- "$@"; }
# prop UNIT PROPERTY: one property of UNIT, as systemd has it.
prop() { ct systemctl show -P "$2" "$1"; }
# ct_fail MESSAGE: fails with MESSAGE and what the container's journal has.
ct_fail() {
	echo "journal of the container:" >&2
	ct journalctl -q --no-pager -n 60 >&2 || true
	sv_fail "$*"
}
# views MOUNTPOINT: how many storeview views are mounted there.
views() { ct findmnt -n -t fuse.storeview -M "$1" | wc -l; }
# read_as_nobody FILE: FILE's bytes as nobody reads them in the container.
read_as_nobody() { ct setpriv --reuid=65534 --regid=65534 --clear-groups -- cat "$1"; }
# wait_until SECONDS COMMAND...: until COMMAND succeeds, SECONDS at most.
wait_until() {
	local i
	for ((i = 0; i < $1 * 10; i++)); do
		"${@:2}" && return 0
		sleep 0.1
	done
	return 1
}
# put FILE: writes standard input to FILE, a path in the container.
put() {
	if [ -n "${stage:-}" ] && [[ $1 == /usr/local/* ]]; then
		mkdir -p "$(dirname "$stage$1")"
		cat >"$stage$1"
	else
		# shellcheck disable=SC2016 # expanded by the shell in the container
		ct sh -c 'mkdir -p "$(dirname "$1")" && cat >"$1"' put "$1"
	fi
}

state=
booted() {
	state=$(ct systemctl is-system-running 2>/dev/null) || true
	case $state in running | degraded) return 0 ;; esac
	return 1
}
wait_until 60 booted || ct_fail "the container's systemd did not finish booting: ${state:-no answer}"
sv_pass "$(ct systemctl --version | head -1) booted in container $machine: $state, using $what"

# The installed units are there, and not enabled.
svc=storeview@test.service mnt_unit=run-storeview.mount
for u in storeview@.service "$mnt_unit"; do
	[ "$(ct systemctl is-enabled "$u" 2>/dev/null)" = disabled ] ||
		ct_fail "$u is $(ct systemctl is-enabled "$u" 2>&1), not installed and disabled"
done
fragment=$(prop "$svc" FragmentPath)
case $fragment in "$prefix"/lib/systemd/system/* | /lib/systemd/system/*) ;; *) ct_fail "$svc comes from $fragment" ;; esac

# The instance's settings, where the unit's EnvironmentFile= says.
conf=$(ct cat "$fragment" | sed -n 's/^EnvironmentFile=//p')
conf=${conf//%i/test}
view=/run/storeview-test
put "$conf" <<EOF
SOURCE=/nix/store
MOUNTPOINT=$view
OPTIONS=-o uid=65534,gid=65534,allow_other -o closure=/srv/test/closure
EOF
echo "/nix/store/$e" >"$SV_TMP/shared/closure"

# 1. start: returns once the daemon said READY=1, which it says once the view answers.
ct systemctl start "$svc" || ct_fail "systemctl start $svc failed"
[ "$(views "$view")" = 1 ] || ct_fail "systemctl start returned before the view was mounted"
[ "$(read_as_nobody "$view/$e/share/doc/README")" = readme ] ||
	ct_fail "systemctl start returned before the view answered nobody"
status=$(prop "$svc" StatusText)
[ "$status" = "serving /nix/store at $view" ] || ct_fail "systemd heard no STATUS= from the daemon: '$status'"
[ "$(prop "$svc" Type)" = notify ] || ct_fail "$svc is Type=$(prop "$svc" Type)"
pid=$(prop "$svc" MainPID)
[ "$(ct readlink "/proc/$pid/exe")" = "$binary" ] || ct_fail "MainPID $pid runs $(ct readlink "/proc/$pid/exe"), not $binary"
[ "$(ct ls "$view")" = "$e" ] || ct_fail "closure not applied: $(ct ls "$view")"
sv_pass "systemctl start $svc ($fragment): active, Type=notify, '$status', nobody reads through it at once"

# 2. reload: the closure file re-read, a new path shown, a removed one gone.
listing() { [ "$(ct ls "$view" | paste -sd' ')" = "$1" ]; }
printf '/nix/store/%s\n' "$e" "$f" >"$SV_TMP/shared/closure"
ct systemctl reload "$svc" || ct_fail "systemctl reload failed"
wait_until 10 listing "$e $f" || ct_fail "reload did not show the new path: $(ct ls "$view")"
echo "/nix/store/$f" >"$SV_TMP/shared/closure"
ct systemctl reload "$svc" || ct_fail "systemctl reload failed"
wait_until 10 listing "$f" || ct_fail "reload did not remove the path: $(ct ls "$view")"
! ct stat "$view/$e" >/dev/null 2>&1 || ct_fail "a path removed from the closure is still reachable"
[ "$(prop "$svc" MainPID)" = "$pid" ] || ct_fail "reload restarted the daemon"
sv_pass "systemctl reload: $f appears, then $e vanishes, the same daemon ($pid) serving"

# 3. A daemon killed: systemd detaches the dead view, waits RestartSec=, mounts afresh.
ct kill -KILL "$pid"
sub=
restarting() {
	sub=$(prop "$svc" SubState)
	[ "$sub" = auto-restart ]
}
wait_until 10 restarting || ct_fail "$svc did not wait to restart after SIGKILL (SubState=$sub)"
[ "$(views "$view")" = 0 ] || ct_fail "the dead view is still mounted while $svc waits to restart"
active_again() { [ "$(prop "$svc" ActiveState)" = active ]; }
wait_until 20 active_again || ct_fail "$svc did not come back after SIGKILL"
[ "$(prop "$svc" NRestarts)" = 1 ] || ct_fail "NRestarts=$(prop "$svc" NRestarts) after one crash"
new_pid=$(prop "$svc" MainPID)
[ "$new_pid" != "$pid" ] || ct_fail "the killed daemon is still MainPID"
[ "$(views "$view")" = 1 ] || ct_fail "$(views "$view") views mounted at $view after the restart"
[ "$(read_as_nobody "$view/$f/lib/f1")" = "file 1" ] || ct_fail "the restarted view does not answer"
sv_pass "SIGKILL of the daemon: no view while auto-restart waits, then NRestarts=1, one live view (daemon $new_pid)"

# 4. stop: unmounted, no process left, the filesystem below untouched.
ct systemctl stop "$svc" || ct_fail "systemctl stop failed"
[ "$(prop "$svc" ActiveState)/$(prop "$svc" Result)" = inactive/success ] ||
	ct_fail "$svc stopped as $(prop "$svc" ActiveState)/$(prop "$svc" Result)"
[ "$(views "$view")" = 0 ] || ct_fail "systemctl stop left the view mounted"
! ct pgrep -x storeview >/dev/null || ct_fail "a storeview process is left: $(ct pgrep -a -x storeview)"
sv_pass "systemctl stop: inactive/success, view unmounted, no storeview process left"

# 5. A start refused (another filesystem at MOUNTPOINT): ExecStopPost, run
# after the failed start, detaches only a storeview view.
ct mount -t tmpfs storeview-other "$view"
! ct systemctl start "$svc" 2>/dev/null || ct_fail "$svc started over another filesystem"
ct findmnt -n -t tmpfs -M "$view" >/dev/null || ct_fail "ExecStopPost unmounted the tmpfs at MOUNTPOINT"
ct systemctl stop "$svc"
ct umount "$view"
sv_pass "a start refused over a tmpfs at MOUNTPOINT: failed, the tmpfs left mounted by ExecStopPost"

# 6. The mount unit as shipped: /nix/store at /run/storeview for qemu:kvm.
printf 'g kvm -\nu qemu -\n' | ct systemd-sysusers - >/dev/null || ct_fail "cannot add qemu and kvm"
owner=$(ct id -u qemu):$(ct getent group kvm | cut -d: -f3)
ct systemctl start "$mnt_unit" || ct_fail "systemctl start $mnt_unit failed"
[ "$(prop "$mnt_unit" ActiveState)" = active ] || ct_fail "$mnt_unit is $(prop "$mnt_unit" ActiveState)"
[ "$(views /run/storeview)" = 1 ] || ct_fail "$mnt_unit mounted no view at /run/storeview"
[ "$(ct stat -c %u:%g "/run/storeview/$e/share/secret")" = "$owner" ] ||
	ct_fail "the view's entries are owned by $(ct stat -c %u:%g "/run/storeview/$e/share/secret"), not qemu:kvm ($owner)"
[ "$(ct setpriv --reuid=qemu --regid=kvm --clear-groups -- cat "/run/storeview/$e/share/doc/README")" = readme ] ||
	ct_fail "qemu cannot read through the view"
daemon=$(ct pgrep -x storeview) || ct_fail "no daemon serves $mnt_unit"
[ "$(ct readlink "/proc/$daemon/exe")" = "$binary" ] || ct_fail "mount.fuse3 ran $(ct readlink "/proc/$daemon/exe"), not $binary"
ct systemctl stop "$mnt_unit" || ct_fail "systemctl stop $mnt_unit failed"
[ "$(prop "$mnt_unit" ActiveState)" = inactive ] || ct_fail "$mnt_unit is $(prop "$mnt_unit" ActiveState) after stop"
[ "$(views /run/storeview)" = 0 ] || ct_fail "$mnt_unit left the view mounted"
no_daemon() { ! ct pgrep -x storeview >/dev/null; }
wait_until 10 no_daemon || ct_fail "the daemon of $mnt_unit outlived its unmount"
sv_pass "$mnt_unit: started by mount.fuse3 as $binary, entries owned by qemu:kvm ($owner), stopped with its daemon"
