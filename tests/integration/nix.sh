#!/bin/bash
# The Nix files, as far as they can be checked without nixpkgs: both parse;
# nix/package.nix, given stand-ins for its callPackage arguments, evaluates
# to the derivation nixpkgs would build (inputs, configure flags, meta),
# with and without systemd; nix/module.nix, given stand-ins for the module
# system, turns an instance into the service it describes.  What nixpkgs
# itself would make of them stays untested here.
set -euo pipefail
command -v nix-instantiate >/dev/null || { echo "SKIP: needs nix-instantiate (Debian package nix-bin)"; exit 77; }
: "${top_srcdir:?top_srcdir must name the source tree}"
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d /tmp/storeview-nix.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# Nothing of this machine's nix configuration or state is used or written.
export NIX_CONF_DIR=$tmp NIX_STATE_DIR=$tmp/state NIX_LOG_DIR=$tmp/log NIX_STORE_DIR=$tmp/store HOME=$tmp
export NIX_CONFIG="build-users-group ="
nix_eval() { nix-instantiate --readonly-mode --eval --strict --json "$@"; }

for f in package.nix module.nix; do
	nix-instantiate --readonly-mode --parse "$top_srcdir/nix/$f" >/dev/null || fail "nix/$f does not parse"
done
echo "ok: nix-instantiate --parse: nix/package.nix, nix/module.nix"

cat >"$tmp/package.nix" <<EOF
{ withSystemd }:
let
  lib = {
    cleanSource = src: src;
    optional = cond: x: if cond then [ x ] else [ ];
    withFeature = flag: name: "--\${if flag then "with" else "without"}-\${name}";
    meta.availableOn = platform: pkg: true;
    licenses.unfree = { shortName = "unfree"; };
    platforms.linux = [ "x86_64-linux" ];
  };
  stdenv = { hostPlatform = { }; mkDerivation = attrs: attrs; };
  dep = name: { inherit name; };
  args = {
    inherit lib stdenv;
    autoreconfHook = dep "autoreconfHook";
    pkg-config = dep "pkg-config";
    fuse3 = dep "fuse3";
    glib = dep "glib";
    acl = dep "acl";
    check = dep "check";
    systemd = dep "systemd";
  } // (if withSystemd == null then { } else { inherit withSystemd; });
  drv = import $top_srcdir/nix/package.nix args;
  names = map (d: d.name);
in {
  inherit (drv) pname version doCheck checkFlags;
  configureFlags = map (f: builtins.replaceStrings [ (placeholder "out") ] [ "OUT" ] f) drv.configureFlags;
  src = toString drv.src;
  nativeBuildInputs = names drv.nativeBuildInputs;
  buildInputs = names drv.buildInputs;
  checkInputs = names drv.checkInputs;
  meta = { inherit (drv.meta) mainProgram platforms; license = drv.meta.license.shortName; };
}
EOF
expect() {
	grep -qF -- "$2" <<<"$1" || fail "nix/package.nix ($3) evaluates without $2: $1"
}
out=$(nix_eval --arg withSystemd null "$tmp/package.nix") || fail "nix/package.nix does not evaluate"
for want in '"pname":"storeview"' '"buildInputs":["fuse3","glib","acl","systemd"]' \
	'"nativeBuildInputs":["autoreconfHook","pkg-config"]' '"checkInputs":["check"]' \
	'"--sysconfdir=/etc"' '"--with-systemdsystemunitdir=OUT/lib/systemd/system"' \
	'"--with-libsystemd"' '"checkFlags":["TESTS=tests/unit/check_storeview"]' \
	'"mainProgram":"storeview"' '"platforms":["x86_64-linux"]' '"license":"unfree"' \
	"\"src\":\"$(cd "$top_srcdir" && pwd -P)\""; do
	expect "$out" "$want" default
done
version=$(sed -n 's/^AC_INIT(\[storeview\], \[\([^]]*\)\].*/\1/p' "$top_srcdir/configure.ac")
expect "$out" "\"version\":\"$version\"" "configure.ac's version"
echo "ok: nix/package.nix with stand-ins: $out"
out=$(nix_eval --arg withSystemd false "$tmp/package.nix") || fail "nix/package.nix does not evaluate without systemd"
expect "$out" '"buildInputs":["fuse3","glib","acl"]' "withSystemd = false"
expect "$out" '"--without-libsystemd"' "withSystemd = false"
echo "ok: nix/package.nix with withSystemd = false: no systemd input, --without-libsystemd"

# The module's function, called as the module system would with one
# instance's settings filled in; lib's functions are builtins or one-liners.
cat >"$tmp/module.nix" <<EOF
let
  id = x: x;
  lib = {
    inherit (builtins) concatMap;
    mkOption = id;
    types = { package = 1; str = 1; path = 1; attrsOf = id; submodule = id; nullOr = id; listOf = id; };
    literalExpression = id;
    optional = cond: x: if cond then [ x ] else [ ];
    mkIf = cond: value: if cond then value else { };
    unique = id;
    mapAttrsToList = f: set: map (n: f n set.\${n}) (builtins.attrNames set);
    nameValuePair = name: value: { inherit name value; };
    mapAttrs' = f: set: builtins.listToAttrs (lib.mapAttrsToList f set);
  };
  pkgs = {
    callPackage = path: args: { outPath = "/nix/store/storeview"; };
    coreutils = "/nix/store/coreutils";
    util-linux = "/nix/store/util-linux";
    writeShellScript = name: text: "/nix/store/\${name}";
  };
  utils.escapeSystemdExecArgs = builtins.concatStringsSep " ";
  vm = {
    package = "/nix/store/storeview"; source = "/nix/store"; mountPoint = "/run/storeview/vm";
    user = "alice"; group = "kvm"; closure = "/run/vm.closure"; extraOptions = [ "virtfs_xattrs" ];
  };
  module = import $top_srcdir/nix/module.nix { config.services.storeview.vm = vm; inherit lib pkgs utils; };
  unit = module.config.systemd.services.storeview-vm;
in {
  inherit (unit) wantedBy;
  inherit (unit.serviceConfig) Type ExecStartPre ExecStart ExecReload ExecStopPost Restart;
  options = builtins.attrNames (module.options.services.storeview.type { name = "vm"; }).options;
}
EOF
out=$(nix_eval "$tmp/module.nix") || fail "nix/module.nix does not evaluate with stand-ins"
# shellcheck disable=SC2016 # $MAINPID is for systemd to expand
for want in '"Type":"notify"' '"Restart":"on-failure"' '"wantedBy":["multi-user.target"]' \
	'"ExecStart":"/nix/store/storeview/bin/storeview -f -o uid=alice -o allow_other -o recover_stale -o gid=kvm -o closure=/run/vm.closure -o virtfs_xattrs /nix/store /run/storeview/vm"' \
	'"ExecStartPre":"/nix/store/coreutils/bin/mkdir -p /run/storeview/vm"' \
	'"ExecReload":"/nix/store/coreutils/bin/kill -HUP $MAINPID"' \
	'"ExecStopPost":"/nix/store/storeview-detach /run/storeview/vm"' \
	'"options":["closure","extraOptions","group","mountPoint","package","source","user"]'; do
	grep -qF -- "$want" <<<"$out" || fail "nix/module.nix gives no $want: $out"
done
echo "ok: nix/module.nix with stand-ins: services.storeview.vm gives storeview-vm.service: $out"
