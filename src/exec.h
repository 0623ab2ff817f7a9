/* `storeview exec`: a private view that lives as long as one command. */
#ifndef STOREVIEW_EXEC_H
#define STOREVIEW_EXEC_H

/* Exit statuses of the wrapper itself; otherwise it exits as the command did. */
enum {
	SV_EXEC_FAILED = 125,		/* bad usage, mount failed, the view died */
	SV_EXEC_CANNOT_RUN = 126,	/* COMMAND found but could not be run */
	SV_EXEC_NOT_FOUND = 127,	/* COMMAND not found */
	SV_EXEC_SIGNALED = 128,		/* plus N: COMMAND was killed by signal N */
};

/* The command's argument standing for the view's path, and its variable. */
#define SV_EXEC_PLACEHOLDER "{view}"
#define SV_EXEC_ENV "STOREVIEW_MOUNT"

/* Runs `storeview exec ...`; argv[0] is "exec".  Returns the exit status. */
int sv_exec_main(int argc, char **argv);

#endif
