#!/bin/bash
# POSIX ACLs in a hostile store: a file and a directory that the mode
# lets others read but an ACL entry closes to nobody.  Through the view
# nobody gets EACCES as from SOURCE, whether the daemon is asked at open
# or the kernel opens alone (-o no_open), also for an ACL set while mounted
# (after the attribute timeout) or changed while the kernel still holds the
# old attributes.  After each case the daemon answers another client within
# a second.
. "$(dirname "$0")/../lib.sh"
sv_require_fuse
sv_tmpdir
command -v setfacl >/dev/null || sv_skip "needs setfacl (Debian package acl)"

src=$SV_TMP/store
e=$src/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-acl
mkdir -p "$e/dir"
echo secret >"$e/file"
echo inside >"$e/dir/file"
echo plain >"$e/plain"
for f in late changed; do echo "$f" >"$e/$f"; done
chmod 644 "$e"/* "$e/dir/file" && chmod 755 "$e/dir"
setfacl -m u:nobody:--- "$e/file" "$e/dir" 2>/dev/null || sv_skip "SOURCE's file system ($(stat -f -c %T "$src")) has no ACLs"
# An extended ACL that lets others read, until nobody is named below.
setfacl -m u:daemon:r-- "$e/changed"
chown -R root:root "$src"
cases=0
case_ok() { cases=$((cases + 1)); sv_pass "$*"; }

# Control: SOURCE itself refuses nobody, and lets nobody read the plain file.
as_nobody "$PROBE" try-open "$e/file" "$e/dir/file" "$e/plain" >"$SV_TMP/src.open"
[ "$(tr '\n' ' ' <"$SV_TMP/src.open")" = "$e/file err EACCES $e/dir/file err EACCES $e/plain ok read=1 " ] ||
	sv_fail "control: SOURCE as nobody: $(cat "$SV_TMP/src.open")"


for mode in default no_open; do
	mnt=$SV_TMP/view-$mode v=$SV_TMP/view-$mode/${e##*/}
	mkdir "$mnt"
	opts=allow_other,uid=0,gid=0
	[ $mode = no_open ] && opts=$opts,no_open
	sv_mount "$src" "$mnt" -o "$opts,timeout=1"

	# 1. The ACL'd file and directory, and a control that nobody may read.
	as_nobody "$PROBE" try-open "$v/file" "$v/dir/file" "$v/plain" >"$SV_TMP/view.open"
	[ "$(tr '\n' ' ' <"$SV_TMP/view.open")" = "$v/file err EACCES $v/dir/file err EACCES $v/plain ok read=1 " ] ||
		sv_fail "$mode: the view as nobody: $(cat "$SV_TMP/view.open")"
	as_nobody ls "$v/dir" >/dev/null 2>&1 && sv_fail "$mode: nobody listed a directory its ACL closes to nobody"
	[ "$(cat "$v/file")" = secret ] || sv_fail "$mode: root cannot read the ACL'd file"
	sv_alive "$mnt/${e##*/}" "$mode: ACL'd entries"
	case_ok "$mode: nobody gets EACCES on a 0644 file and in and on a 0755 directory with user:nobody:--- (root reads, nobody reads a plain file)"

	# 2. An ACL set after nobody read the file through the view, once the
	# attribute timeout has passed.
	[ "$(as_nobody cat "$v/late")" = late ] || sv_fail "$mode: nobody cannot read 'late' before its ACL"
	setfacl -m u:nobody:--- "$e/late"
	sleep 2
	out=$(as_nobody cat "$v/late" 2>&1) && sv_fail "$mode: nobody read 'late' after its ACL closed it: $out"
	case $out in *"Permission denied"*) ;; *) sv_fail "$mode: 'late' after its ACL: $out" ;; esac
	sv_alive "$mnt/${e##*/}" "$mode: an ACL set while mounted"
	case_ok "$mode: an ACL set while mounted closes the file to nobody once the 1 s timeout has passed"
	setfacl -x u:nobody "$e/late"
	sv_unmount "$mnt"
done

# 3. The daemon's own check, which reads the ACL as it is now: the kernel
# still holds attributes from before nobody was named (timeout 3600), in
# which others may read, and asks the daemon at open.
mnt=$SV_TMP/view-long v=$SV_TMP/view-long/${e##*/}
mkdir "$mnt"
sv_mount "$src" "$mnt" -o allow_other,uid=0,gid=0,timeout=3600
[ "$(as_nobody cat "$v/changed")" = changed ] || sv_fail "nobody cannot read 'changed' before its ACL names nobody"
setfacl -m u:nobody:--- "$e/changed"
out=$(as_nobody cat "$v/changed" 2>&1) && sv_fail "nobody read 'changed' after its ACL closed it: $out"
case $out in *"Permission denied"*) ;; *) sv_fail "'changed' after its ACL: $out" ;; esac
[ "$(stat -c %a "$v/changed")" = 644 ] || sv_fail "the kernel's attributes were not the old ones: $(stat -c %a "$v/changed")"
sv_alive "$mnt/${e##*/}" "an ACL changed under cached attributes"
case_ok "an ACL changed under the kernel's cached attributes (still 0644 there) is read at open: nobody gets EACCES"
sv_unmount "$mnt"
echo "hostile ACL cases: $cases passed"
