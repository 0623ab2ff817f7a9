#!/bin/bash
# The systemd units: `systemd-analyze verify` accepts every shipped unit,
# and the unit generated from the README's fstab line, without a word.
# systemd_boot.sh runs them under a real systemd.
. "$(dirname "$0")/../lib.sh"
command -v systemd-analyze >/dev/null || sv_skip "needs systemd-analyze (Debian package systemd)"
: "${top_srcdir:?top_srcdir must name the source tree}"
sv_tmpdir

docs=$top_srcdir/doc
units=$SV_TMP/units
mkdir -p "$units" "$SV_TMP/man/man1"
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
