/* storeview: a read-only FUSE view of a store for unprivileged QEMU. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <fuse_lowlevel.h>
#include <glib.h>

#include "daemon.h"
#include "exec.h"
#include "log.h"
#include "options.h"

int main(int argc, char **argv)
{
	struct fuse_args fuse_args;
	struct sv_options opts;
	char *error = NULL;
	int status;

	/* A first argument "exec" names the wrapper; a SOURCE so named needs "./exec". */
	if (argc > 1 && strcmp(argv[1], "exec") == 0)
		return sv_exec_main(argc - 1, argv + 1);
	if (sv_options_parse(argc, argv, &opts, &fuse_args, &error) < 0) {
		fprintf(stderr, "storeview: %s\n", error);
		g_free(error);
		return SV_EXIT_USAGE;
	}
	if (opts.show_help) {
		sv_options_print_usage("storeview");
		status = SV_EXIT_OK;
	} else if (opts.show_version) {
		printf("storeview %s (libfuse %s)\n", PACKAGE_VERSION, fuse_pkgversion());
		status = SV_EXIT_OK;
	} else {
		sv_log_init(opts.debug);
		status = sv_daemon_run(&opts, &fuse_args, SV_DAEMON_STANDALONE);
	}
	fuse_opt_free_args(&fuse_args);
	sv_options_clear(&opts);
	return status;
}
