# NixOS module: read-only views of a store for unprivileged QEMU.
#
#   imports = [ ./storeview/nix/module.nix ];
#   services.storeview.vm = {
#     user = "alice";          # who runs QEMU
#     group = "kvm";
#     closure = "${pkgs.closureInfo { rootPaths = [ vm ]; }}/store-paths";
#   };
#
# gives storeview-vm.service, a view of /nix/store at /run/storeview/vm.
# Untested against nixpkgs: tests/integration/nix.sh only parses this file.
{ config, lib, pkgs, utils, ... }:

let
  inherit (lib) mkOption types;

  instance = { name, ... }: {
    options = {
      package = mkOption {
        type = types.package;
        default = pkgs.callPackage ./package.nix { };
        defaultText = lib.literalExpression "pkgs.callPackage ./package.nix { }";
        description = "The storeview package to run.";
      };
      source = mkOption {
        type = types.str;
        default = builtins.storeDir;
        description = "The store to view (SOURCE).";
      };
      mountPoint = mkOption {
        type = types.str;
        default = "/run/storeview/${name}";
        description = "Where the view is mounted; made if missing.";
      };
      user = mkOption {
        type = types.str;
        example = "qemu";
        description = "The user QEMU runs as: every entry of the view is reported as theirs (uid=).";
      };
      group = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "kvm";
        description = "The group every entry is reported as (gid=); the user's primary group if null.";
      };
      closure = mkOption {
        type = types.nullOr types.path;
        default = null;
        description = ''
          A file listing the store paths the view shows, one a line, as
          `nix-store -qR` or closureInfo's store-paths print them; all of
          them if null.  `systemctl reload` re-reads it.
        '';
      };
      extraOptions = mkOption {
        type = types.listOf types.str;
        default = [ ];
        example = [ "virtfs_xattrs" "closure_strict" ];
        description = "More -o options of storeview(1).";
      };
    };
  };

  storeviewOptions = inst:
    [ "uid=${inst.user}" "allow_other" "recover_stale" ]
    ++ lib.optional (inst.group != null) "gid=${inst.group}"
    ++ lib.optional (inst.closure != null) "closure=${inst.closure}"
    ++ inst.extraOptions;

  # A daemon that died leaves its view dead: detach it, and only a storeview
  # view, before systemd restarts the service.
  detach = pkgs.writeShellScript "storeview-detach" ''
    if ${pkgs.util-linux}/bin/findmnt -t fuse.storeview -M "$1" >/dev/null; then
      ${pkgs.util-linux}/bin/umount -l "$1"
    fi
  '';

  service = name: inst: lib.nameValuePair "storeview-${name}" {
    description = "Read-only view of ${inst.source} at ${inst.mountPoint} (storeview)";
    documentation = [ "man:storeview(1)" ];
    wantedBy = [ "multi-user.target" ];
    after = [ "local-fs.target" ];
    serviceConfig = {
      # READY=1 once the view answers; SIGTERM unmounts and exits 0.
      Type = "notify";
      ExecStartPre = utils.escapeSystemdExecArgs [ "${pkgs.coreutils}/bin/mkdir" "-p" inst.mountPoint ];
      ExecStart = utils.escapeSystemdExecArgs ([ "${inst.package}/bin/storeview" "-f" ]
        ++ lib.concatMap (o: [ "-o" o ]) (storeviewOptions inst)
        ++ [ inst.source inst.mountPoint ]);
      # SIGHUP re-reads the closure file.
      ExecReload = "${pkgs.coreutils}/bin/kill -HUP $MAINPID";
      ExecStopPost = utils.escapeSystemdExecArgs [ detach inst.mountPoint ];
      Restart = "on-failure";
      RestartSec = "2s";
    };
  };
in
{
  options.services.storeview = mkOption {
    type = types.attrsOf (types.submodule instance);
    default = { };
    description = "Read-only views of a store, each kept up by its storeview-NAME service.";
  };

  config = lib.mkIf (config.services.storeview != { }) {
    environment.systemPackages = lib.unique (lib.mapAttrsToList (_: inst: inst.package) config.services.storeview);
    systemd.services = lib.mapAttrs' service config.services.storeview;
  };
}
