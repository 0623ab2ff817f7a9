/*
 * `storeview exec [OPTIONS] SOURCE -- COMMAND [ARG...]`: mounts a private
 * view on a fresh directory, runs COMMAND with the view's path in place of
 * {view} and in $STOREVIEW_MOUNT, and takes the view down when COMMAND
 * ends, however it ends.
 *
 * The daemon is a forked child serving in the foreground that writes one
 * byte on a pipe once mounted.  From then on a GMainLoop drives everything:
 * child watches on the daemon and the command, and the signals to forward
 * (SIGUSR1 to the daemon, for its counters; the others to the command).
 * Whoever is left is stopped with SIGTERM, and SIGKILL after a grace period.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib.h>
#include <glib-unix.h>

#include "daemon.h"
#include "exec.h"
#include "log.h"
#include "mountpoint.h"
#include "options.h"

#define DEFAULT_READY_TIMEOUT 30
#define GRACE_SECONDS 10

struct exec_args {
	char **mount_opts;	/* every -o value, in order */
	char *dir;		/* where the mountpoint is made */
	int ready_timeout;
	char **rest;		/* argv[0], then the daemon's options and SOURCE */
	const char *source;	/* in rest */
	char **command;
};

struct forward {
	struct exec_state *st;
	int sig;
};

struct exec_state {
	GMainLoop *loop;
	struct exec_args *args;
	const char *mountpoint;
	GPid daemon;		/* 0 once reaped */
	GPid command;		/* 0 before it starts and once reaped */
	guint ready_source;
	guint ready_timer;
	guint grace_timer;
	bool stopping;		/* no command may start any more */
	bool view_died;
	int status;		/* what the wrapper exits with */
	struct forward forwards[4];
};

static void exec_args_clear(struct exec_args *a)
{
	g_strfreev(a->mount_opts);
	g_free(a->dir);
	g_strfreev(a->rest);
	g_strfreev(a->command);
}

/* Splits at "--" first, so that COMMAND's own options never reach GOption. */
static int parse_args(int argc, char **argv, struct exec_args *a)
{
	GOptionEntry entries[] = {
		{ "options", 'o', 0, G_OPTION_ARG_STRING_ARRAY, &a->mount_opts,
		  "Mount options of the view, as for storeview (repeatable)", "OPT[,OPT...]" },
		{ "dir", 0, 0, G_OPTION_ARG_FILENAME, &a->dir,
		  "Make the mountpoint in DIR "
		  "(default: /run as root, else $XDG_RUNTIME_DIR or /tmp)", "DIR" },
		{ "ready-timeout", 0, 0, G_OPTION_ARG_INT, &a->ready_timeout,
		  "Give up if the view is not mounted within SECONDS (default 30)", "SECONDS" },
		{ NULL }
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("SOURCE -- COMMAND [ARG...]");
	g_autoptr(GError) err = NULL;
	int dash = 1;

	g_set_prgname("storeview exec");
	while (dash < argc && strcmp(argv[dash], "--") != 0)
		dash++;
	a->ready_timeout = DEFAULT_READY_TIMEOUT;
	a->rest = g_new0(char *, dash + 1);
	for (int i = 0; i < dash; i++)
		a->rest[i] = g_strdup(argv[i]);

	g_option_context_set_summary(ctx,
		"Mounts a private view of SOURCE, runs COMMAND with {view} in its arguments\n"
		"and $" SV_EXEC_ENV " set to the view's path, and unmounts it when COMMAND\n"
		"ends.  Exits with COMMAND's status; 125 if the view failed, 126 if COMMAND\n"
		"could not run, 127 if it was not found, 128+N if signal N killed it.");
	g_option_context_set_description(ctx,
		"Every storeview option also works here (--uid=USER, -s, ...); see storeview(1).");
	g_option_context_add_main_entries(ctx, entries, NULL);
	/* The daemon's own options stay in rest, and it checks them. */
	g_option_context_set_ignore_unknown_options(ctx, TRUE);
	if (!g_option_context_parse_strv(ctx, &a->rest, &err)) {
		g_printerr("storeview exec: %s\n", err->message);
		return -1;
	}
	for (char **p = a->rest + 1; *p; p++) {
		if ((*p)[0] == '-')
			continue;
		if (a->source) {
			g_printerr("storeview exec: unexpected argument '%s' (COMMAND goes after --)\n", *p);
			return -1;
		}
		a->source = *p;
	}
	if (!a->source) {
		g_printerr("storeview exec: missing SOURCE (see storeview exec --help)\n");
		return -1;
	}
	if (dash + 1 >= argc) {
		g_printerr("storeview exec: missing -- COMMAND (see storeview exec --help)\n");
		return -1;
	}
	if (a->ready_timeout <= 0) {
		g_printerr("storeview exec: bad value %d for --ready-timeout: expected seconds > 0\n",
			   a->ready_timeout);
		return -1;
	}
	a->command = g_new0(char *, argc - dash);
	for (int i = dash + 1; i < argc; i++)
		a->command[i - dash - 1] = g_strdup(argv[i]);
	return 0;
}

static char *make_mountpoint(const struct exec_args *a)
{
	const char *base = a->dir;
	g_autofree char *template = NULL;

	/* Root's $XDG_RUNTIME_DIR is 0700: the view's user (QEMU's) could not reach it. */
	if (!base && geteuid() == 0)
		base = "/run";
	if (!base)
		base = g_getenv("XDG_RUNTIME_DIR");
	if (!base || !*base)
		base = g_get_tmp_dir();
	template = g_build_filename(base, "storeview-XXXXXX", NULL);
	if (!g_mkdtemp(template)) {
		g_printerr("storeview exec: cannot make a mountpoint in '%s': %s\n",
			   base, g_strerror(errno));
		return NULL;
	}
	return g_steal_pointer(&template);
}

/* The daemon's command line, as if the user had run storeview -f by hand. */
static int parse_daemon_options(const struct exec_args *a, const char *mountpoint, int ready_fd,
				struct sv_options *opts, struct fuse_args *fuse_args)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
	char *error = NULL;

	g_ptr_array_add(argv, g_strdup("storeview"));
	g_ptr_array_add(argv, g_strdup("-f"));
	g_ptr_array_add(argv, g_strdup("-o"));
	g_ptr_array_add(argv, g_strdup_printf("ready_fd=%d", ready_fd));
	for (char **o = a->mount_opts; o && *o; o++) {
		g_ptr_array_add(argv, g_strdup("-o"));
		g_ptr_array_add(argv, g_strdup(*o));
	}
	for (char **p = a->rest + 1; *p; p++)
		g_ptr_array_add(argv, g_strdup(*p));
	g_ptr_array_add(argv, g_strdup(mountpoint));

	if (sv_options_parse(argv->len, (char **)argv->pdata, opts, fuse_args, &error) < 0) {
		g_printerr("storeview exec: %s\n", error);
		g_free(error);
		return -1;
	}
	return 0;
}

/* The forked daemon; never returns. */
static void G_GNUC_NORETURN run_daemon(struct sv_options *opts, struct fuse_args *fuse_args,
				       pid_t wrapper)
{
	int devnull, status;

	/* A wrapper killed outright must not leave the view behind: SIGTERM unmounts. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != wrapper)
		_exit(SV_EXIT_RUNTIME);
	/* Out of the terminal's process group: ^C is for the command. */
	setpgid(0, 0);
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
		close(devnull);
	}
	sv_log_init(opts->debug);
	status = sv_daemon_run(opts, fuse_args, SV_DAEMON_EXEC);
	/*
	 * The daemon removes the mountpoint itself: after a SIGKILLed wrapper
	 * nobody else will, and getppid() cannot tell, as the kernel reparents
	 * us to the wrapper's surviving threads first.
	 */
	if (rmdir(opts->mountpoint) < 0)
		g_printerr("storeview exec: cannot remove the mountpoint '%s': %s\n",
			   opts->mountpoint, g_strerror(errno));
	_exit(status);
}

static char *describe_wait_status(int wait_status)
{
	if (WIFSIGNALED(wait_status))
		return g_strdup_printf("killed by signal %d (%s)", WTERMSIG(wait_status),
				       strsignal(WTERMSIG(wait_status)));
	return g_strdup_printf("exited with status %d", WEXITSTATUS(wait_status));
}

static void finish_if_done(struct exec_state *st)
{
	if (!st->daemon && !st->command)
		g_main_loop_quit(st->loop);
}

/* SIGKILL for whoever ignored the SIGTERM. */
static gboolean on_grace_over(gpointer data)
{
	struct exec_state *st = data;

	st->grace_timer = 0;
	if (st->command)
		kill(st->command, SIGKILL);
	if (st->daemon)
		kill(st->daemon, SIGKILL);
	return G_SOURCE_REMOVE;
}

static void terminate(struct exec_state *st, GPid pid)
{
	kill(pid, SIGTERM);
	if (!st->grace_timer)
		st->grace_timer = g_timeout_add_seconds(GRACE_SECONDS, on_grace_over, st);
}

static void stop_daemon(struct exec_state *st)
{
	st->stopping = true;
	if (st->ready_timer) {
		g_source_remove(st->ready_timer);
		st->ready_timer = 0;
	}
	if (st->daemon)
		terminate(st, st->daemon);
}

static void on_command_exit(GPid pid, int wait_status, gpointer data)
{
	struct exec_state *st = data;

	g_spawn_close_pid(pid);
	st->command = 0;
	if (!st->view_died)
		st->status = WIFSIGNALED(wait_status) ? SV_EXEC_SIGNALED + WTERMSIG(wait_status)
						      : WEXITSTATUS(wait_status);
	stop_daemon(st);
	finish_if_done(st);
}

static void on_daemon_exit(GPid pid, int wait_status, gpointer data)
{
	struct exec_state *st = data;
	g_autofree char *how = describe_wait_status(wait_status);
	char *error = NULL;

	g_spawn_close_pid(pid);
	st->daemon = 0;
	if (st->command) {
		g_printerr("storeview exec: the view at %s died (daemon %s) while the command ran; stopping the command\n",
			   st->mountpoint, how);
		/* Detach now so that the command sees ENOENT, not a hang or ENOTCONN. */
		if (sv_mountpoint_is_stale(st->mountpoint) &&
		    sv_mountpoint_detach(st->mountpoint, &error) < 0) {
			g_printerr("storeview exec: %s\n", error);
			g_free(error);
		}
		st->view_died = true;
		st->status = SV_EXEC_FAILED;
		terminate(st, st->command);
	} else if (!st->stopping) {
		g_printerr("storeview exec: no view of %s: the daemon %s before it was mounted\n",
			   st->args->source, how);
		st->status = SV_EXEC_FAILED;
		stop_daemon(st);
	} else if (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != SV_EXIT_OK) {
		g_printerr("storeview exec: warning: the daemon %s while unmounting\n", how);
	}
	finish_if_done(st);
}

static char **substitute(char **command, const char *mountpoint)
{
	char **out = g_new0(char *, g_strv_length(command) + 1);

	for (guint i = 0; command[i]; i++) {
		GString *s = g_string_new(command[i]);

		g_string_replace(s, SV_EXEC_PLACEHOLDER, mountpoint, 0);
		out[i] = g_string_free(s, FALSE);
	}
	return out;
}

static void start_command(struct exec_state *st)
{
	g_auto(GStrv) argv = substitute(st->args->command, st->mountpoint);
	g_auto(GStrv) envp = g_environ_setenv(g_get_environ(), SV_EXEC_ENV, st->mountpoint, TRUE);
	g_autoptr(GError) err = NULL;
	const GSpawnFlags flags = G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
				  G_SPAWN_CHILD_INHERITS_STDIN;

	if (!g_spawn_async(NULL, argv, envp, flags, NULL, NULL, &st->command, &err)) {
		g_printerr("storeview exec: cannot run '%s': %s\n", argv[0], err->message);
		st->command = 0;
		st->status = g_error_matches(err, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT)
			     ? SV_EXEC_NOT_FOUND : SV_EXEC_CANNOT_RUN;
		stop_daemon(st);
		return;
	}
	g_child_watch_add(st->command, on_command_exit, st);
}

static gboolean on_ready(int fd, GIOCondition condition, gpointer data)
{
	struct exec_state *st = data;
	char byte;

	st->ready_source = 0;
	/* Without the byte the daemon failed; its child watch says why. */
	if (read(fd, &byte, 1) == 1 && !st->stopping) {
		g_source_remove(st->ready_timer);
		st->ready_timer = 0;
		start_command(st);
	}
	close(fd);
	return G_SOURCE_REMOVE;
}

static gboolean on_ready_timeout(gpointer data)
{
	struct exec_state *st = data;

	st->ready_timer = 0;
	g_printerr("storeview exec: the view was not mounted within %d s; giving up\n",
		   st->args->ready_timeout);
	st->status = SV_EXEC_FAILED;
	stop_daemon(st);
	return G_SOURCE_REMOVE;
}

static gboolean on_signal(gpointer data)
{
	struct forward *f = data;
	struct exec_state *st = f->st;

	/* The counters are the daemon's, and it takes SIGUSR1 once the view is up. */
	if (f->sig == SIGUSR1) {
		if (st->command && st->daemon)
			kill(st->daemon, SIGUSR1);
	} else if (st->command) {
		kill(st->command, f->sig);
	} else if (!st->stopping) {
		st->status = SV_EXEC_SIGNALED + f->sig;
		stop_daemon(st);
	}
	return G_SOURCE_CONTINUE;
}

static void serve_until_done(struct exec_state *st, int ready_fd)
{
	static const int signals[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1 };
	guint ids[G_N_ELEMENTS(signals)];

	st->loop = g_main_loop_new(NULL, FALSE);
	g_child_watch_add(st->daemon, on_daemon_exit, st);
	st->ready_source = g_unix_fd_add(ready_fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_ready, st);
	st->ready_timer = g_timeout_add_seconds(st->args->ready_timeout, on_ready_timeout, st);
	for (guint i = 0; i < G_N_ELEMENTS(signals); i++) {
		st->forwards[i] = (struct forward){ st, signals[i] };
		ids[i] = g_unix_signal_add(signals[i], on_signal, &st->forwards[i]);
	}
	g_main_loop_run(st->loop);

	for (guint i = 0; i < G_N_ELEMENTS(signals); i++)
		g_source_remove(ids[i]);
	if (st->ready_source) {
		g_source_remove(st->ready_source);
		close(ready_fd);
	}
	if (st->grace_timer)
		g_source_remove(st->grace_timer);
	g_main_loop_unref(st->loop);
}

int sv_exec_main(int argc, char **argv)
{
	struct exec_args args = { 0 };
	struct exec_state st = { .args = &args, .status = SV_EXEC_FAILED };
	struct sv_options opts;
	struct fuse_args fuse_args = FUSE_ARGS_INIT(0, NULL);
	g_autofree char *mountpoint = NULL;
	char *error = NULL;
	int ready[2] = { -1, -1 };
	bool parsed = false;
	pid_t wrapper = getpid();

	if (parse_args(argc, argv, &args) < 0)
		goto out;
	if (pipe2(ready, O_CLOEXEC) < 0) {
		g_printerr("storeview exec: %s\n", g_strerror(errno));
		goto out;
	}
	mountpoint = make_mountpoint(&args);
	if (!mountpoint)
		goto out;
	st.mountpoint = mountpoint;
	if (parse_daemon_options(&args, mountpoint, ready[1], &opts, &fuse_args) < 0)
		goto out;
	parsed = true;

	st.daemon = fork();
	if (st.daemon < 0) {
		g_printerr("storeview exec: cannot fork: %s\n", g_strerror(errno));
		goto out;
	}
	if (st.daemon == 0) {
		close(ready[0]);
		run_daemon(&opts, &fuse_args, wrapper);
	}
	close(ready[1]);
	ready[1] = -1;
	serve_until_done(&st, ready[0]);
	ready[0] = -1;
out:
	if (mountpoint) {
		/* A daemon killed by the grace timer leaves its mount behind. */
		if (sv_mountpoint_is_stale(mountpoint) &&
		    sv_mountpoint_detach(mountpoint, &error) < 0) {
			g_printerr("storeview exec: %s\n", error);
			g_free(error);
		}
		/* Normally the daemon has removed it already. */
		if (rmdir(mountpoint) < 0 && errno != ENOENT)
			g_printerr("storeview exec: cannot remove the mountpoint '%s': %s\n",
				   mountpoint, g_strerror(errno));
	}
	if (parsed) {
		fuse_opt_free_args(&fuse_args);
		sv_options_clear(&opts);
	}
	for (int i = 0; i < 2; i++)
		if (ready[i] >= 0)
			close(ready[i]);
	exec_args_clear(&args);
	return st.status;
}
