# storeview for nixpkgs, in callPackage style:
#   storeview = callPackage ./nix/package.nix { };
# Untested against nixpkgs: tests/integration/nix.sh only parses this file
# and evaluates it with stand-ins for its arguments.
{ lib
, stdenv
, autoreconfHook
, pkg-config
, fuse3
, glib
, acl
, check
, systemd
, withSystemd ? lib.meta.availableOn stdenv.hostPlatform systemd
}:

stdenv.mkDerivation {
  pname = "storeview";
  version = "0.1.0";

  src = lib.cleanSource ./..;

  nativeBuildInputs = [ autoreconfHook pkg-config ];
  # libsystemd lets the daemon tell a Type=notify unit it is ready.
  buildInputs = [ fuse3 glib acl ] ++ lib.optional withSystemd systemd;
  checkInputs = [ check ];

  configureFlags = [
    "--sysconfdir=/etc"
    "--with-systemdsystemunitdir=${placeholder "out"}/lib/systemd/system"
    (lib.withFeature withSystemd "libsystemd")
  ];

  # The unit tests; the integration tests mount views as root and would skip.
  doCheck = true;
  checkFlags = [ "TESTS=tests/unit/check_storeview" ];

  meta = {
    description = "Read-only FUSE view of a store that an unprivileged QEMU can serve to a guest";
    longDescription = ''
      storeview mounts a read-only view of a store such as /nix/store that
      reports the QEMU user as the owner of every entry and drops O_NOATIME
      when it opens the real file, so that an unprivileged QEMU can share
      the store over 9p or virtio-fs with a guest that stacks overlayfs on it.
    '';
    # The source tree declares no license yet; unfree is how nixpkgs marks
    # a package it may not redistribute.  Change it once one is chosen.
    license = lib.licenses.unfree;
    platforms = lib.platforms.linux;
    mainProgram = "storeview";
  };
}
