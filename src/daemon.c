/*
 * Running one view.  Ordering matters: everything that can fail because of
 * bad input is checked before the mount, and the parent of a daemonizing
 * storeview returns only once the mount is ready, so `storeview` or
 * `mount` returning means the view works.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <glib.h>
#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "closure_view.h"
#include "daemon.h"
#include "fs.h"
#include "init.h"
#include "log.h"
#include "loop.h"
#include "mountpoint.h"
#include "notify.h"
#include "source.h"
#include "watch.h"

/* Logs the counters in one line: on SIGUSR1, and when the view stops. */
static void log_stats(struct sv_fs *fs)
{
	unsigned int inodes, dir_fds;

	sv_inode_table_counts(fs->inodes, &inodes, &dir_fds);
	g_message("stats: lookups=%lu opens=%lu noatime_dropped=%lu reads=%lu denied=%lu "
		  "hidden=%lu inodes=%u dir_fds=%u prefetched=%lu listing_ends=%lu "
		  "read_ahead_used=%lu data_read_ahead=%lu passthrough=%lu forgets=%lu",
		  __atomic_load_n(&fs->stats.lookups, __ATOMIC_RELAXED),
		  __atomic_load_n(&fs->stats.opens, __ATOMIC_RELAXED),
		  __atomic_load_n(&fs->stats.noatime_dropped, __ATOMIC_RELAXED),
		  __atomic_load_n(&fs->stats.reads, __ATOMIC_RELAXED),
		  __atomic_load_n(&fs->stats.denied, __ATOMIC_RELAXED),
		  __atomic_load_n(&fs->stats.hidden, __ATOMIC_RELAXED),
		  inodes, dir_fds, sv_prefetch_count(fs->prefetch),
		  __atomic_load_n(&fs->stats.listing_ends, __ATOMIC_RELAXED),
		  __atomic_load_n(&fs->stats.read_ahead_used, __ATOMIC_RELAXED),
		  sv_readahead_count(fs->readahead),
		  __atomic_load_n(&fs->stats.passthrough, __ATOMIC_RELAXED),
		  __atomic_load_n(&fs->stats.forgets, __ATOMIC_RELAXED));
}

struct signal_thread {
	pthread_t thread;
	sigset_t set;
	struct sv_fs *fs;
	volatile bool quit;
};

/* SIGUSR1 logs the counters, SIGHUP re-reads the closure; the loop threads never see these. */
static void *signal_main(void *data)
{
	struct signal_thread *st = data;
	int sig;

	while (sigwait(&st->set, &sig) == 0 && !st->quit) {
		char *error = NULL;

		if (sig == SIGUSR1)
			log_stats(st->fs);
		else if (!st->fs->opts->closure_path)
			g_message("SIGHUP: no closure to reload");
		else if (sv_closure_view_load(st->fs, &error) < 0) {
			g_warning("%s; the previous closure stays in force", error);
			g_free(error);
		}
	}
	return NULL;
}

/*
 * Open files of the clients (QEMU may hold thousands) each need an fd here:
 * take all the kernel allows.  Directory fds stay bounded by dir_fd_cache.
 */
static void raise_fd_limit(void)
{
	struct rlimit lim;

	if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
		lim.rlim_cur = lim.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &lim) < 0)
			g_debug("cannot raise the fd limit: %s", g_strerror(errno));
	}
}

static void notify_ready(const struct sv_options *opts)
{
	if (opts->ready_fd >= 0) {
		char byte = 1;

		if (write(opts->ready_fd, &byte, 1) != 1)
			g_warning("cannot signal readiness: %s", g_strerror(errno));
		close(opts->ready_fd);
	}
#ifdef HAVE_LIBSYSTEMD
	sd_notifyf(0, "READY=1\nSTATUS=serving %s at %s", opts->source, opts->mountpoint);
#endif
}

/*
 * Once stopping, a further SIGTERM must not cut the teardown short: storeview
 * exec's daemon gets one from PR_SET_PDEATHSIG for each thread of a killed
 * wrapper it is handed to, and only the teardown removes the mountpoint.
 * libfuse then leaves these alone, as they are no longer its handlers.
 */
static void ignore_stop_signals(void)
{
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
}

static int serve(struct sv_fs *fs)
{
	return sv_loop_run(fs->se, fs->opts->singlethread ? 1 : fs->opts->max_threads);
}

/* SOURCE opened, its inode table and the closure: all that bad input can fail. */
static int open_source(struct sv_fs *fs, char **error)
{
	const struct sv_options *opts = fs->opts;

	fs->root_fd = sv_source_open(opts->source, error);
	if (fs->root_fd < 0)
		return -1;
	fs->inodes = sv_inode_table_new(fs->root_fd, opts->dir_fd_cache);
	if (!fs->inodes) {
		*error = g_strdup_printf("SOURCE '%s': %s", opts->source, g_strerror(errno));
		close(fs->root_fd);
		return -1;
	}
	return sv_closure_view_load(fs, error);
}

/* The FUSE session, and the open files table that may register backing files with it. */
static int new_session(struct sv_fs *fs, struct fuse_args *fuse_args, char **error)
{
	fs->se = fuse_session_new(fuse_args, &sv_ops, sizeof(sv_ops), fs);
	if (!fs->se) {
		*error = g_strdup("invalid FUSE options");
		return -1;
	}
	/* Registering backing files takes CAP_SYS_ADMIN: not worth asking for otherwise. */
	if (!fs->opts->no_passthrough && geteuid() == 0)
		fs->passthrough = sv_passthrough_new(fs->se);
	fs->open_files = sv_open_files_new(fs->passthrough);
	return 0;
}

/* Mounts the view; *mounted tells the teardown to unmount it. */
static int mount_view(struct sv_fs *fs, bool *mounted, char **error)
{
	const struct sv_options *opts = fs->opts;

	if (fuse_set_signal_handlers(fs->se) < 0) {
		*error = g_strdup("cannot install signal handlers");
		return -1;
	}
	if (fuse_session_mount(fs->se, opts->mountpoint) < 0) {
		*error = g_strdup_printf("cannot mount on '%s'", opts->mountpoint);
		return -1;
	}
	*mounted = true;
	sv_init_attach(fs);
	g_debug("mounted %s at %s (owner %u:%u)", opts->source, opts->mountpoint,
		(unsigned)opts->uid, (unsigned)opts->gid);
	return 0;
}

/* Without -f: leaves the terminal, the parent returning once the view works. */
static int detach(const struct sv_options *opts, char **error)
{
	if (fuse_daemonize(opts->foreground) < 0) {
		*error = g_strdup("cannot detach from the terminal");
		return -1;
	}
	if (!opts->foreground)
		sv_log_to_syslog();
	return 0;
}

/*
 * Blocks SIGUSR1 and SIGHUP for good, so that only signal_main receives
 * them, and the stop signals until unblock_stop_signals(): they must reach
 * this thread, whose wait in sv_loop_run they interrupt, and the helper
 * threads inherit the mask they start with.  Call before any thread starts.
 */
static void block_signals(struct signal_thread *sigs, sigset_t *stop_signals)
{
	sigemptyset(&sigs->set);
	sigaddset(&sigs->set, SIGUSR1);
	sigaddset(&sigs->set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs->set, NULL);
	sigemptyset(stop_signals);
	sigaddset(stop_signals, SIGTERM);
	sigaddset(stop_signals, SIGINT);
	pthread_sigmask(SIG_BLOCK, stop_signals, NULL);
}

static void unblock_stop_signals(const sigset_t *stop_signals)
{
	pthread_sigmask(SIG_UNBLOCK, stop_signals, NULL);
}

/*
 * The threads beside the request loop: the top-level watch, and reading
 * ahead listings and data.  Each that cannot start is only warned about.
 */
static struct sv_watch *start_helpers(struct sv_fs *fs)
{
	struct sv_watch *watch;
	char *error = NULL;

	watch = sv_watch_start(fs, &error);
	if (!watch) {
		g_warning("%s; removed store paths stay visible until the timeout", error);
		g_clear_pointer(&error, g_free);
	}
	if (fs->opts->no_prefetch)
		return watch;
	fs->prefetch = sv_prefetch_new(&error);
	if (!fs->prefetch) {
		g_warning("cannot start reading ahead: %s", error);
		g_clear_pointer(&error, g_free);
	}
	fs->readahead = sv_readahead_new(&error);
	if (!fs->readahead) {
		g_warning("cannot start reading data ahead: %s", error);
		g_clear_pointer(&error, g_free);
	}
	return watch;
}

static void stop_signal_thread(struct signal_thread *sigs)
{
	sigs->quit = true;
	pthread_kill(sigs->thread, SIGUSR1);
	sv_notify_join(sigs->fs, sigs->thread, "the closure reload");
}

static void end_session(struct fuse_session *se, bool mounted)
{
	if (!se)
		return;
	if (mounted)
		fuse_session_unmount(se);
	fuse_remove_signal_handlers(se);
	fuse_session_destroy(se);
}

/* Frees what the view held once no thread uses it. */
static void free_view(struct sv_fs *fs)
{
	sv_prefetch_free(fs->prefetch);
	sv_readahead_free(fs->readahead);
	sv_init_free(fs->init);
	sv_open_files_free(fs->open_files);
	sv_passthrough_free(fs->passthrough);
	sv_inode_table_free(fs->inodes);
	sv_closure_free(fs->closure);
	g_rw_lock_clear(&fs->closure_lock);
}

int sv_daemon_run(const struct sv_options *opts, struct fuse_args *fuse_args,
		  enum sv_daemon_caller caller)
{
	struct sv_fs fs = { .opts = opts };
	struct signal_thread sigs = { .fs = &fs };
	sigset_t stop_signals;
	struct sv_watch *watch = NULL;
	char *error = NULL;
	int status = SV_EXIT_USAGE;
	bool mounted = false, sigthread = false;

	g_rw_lock_init(&fs.closure_lock);
	raise_fd_limit();
	if (open_source(&fs, &error) < 0 ||
	    sv_mountpoint_prepare(opts->mountpoint, opts->source, opts->recover_stale, &error) < 0 ||
	    new_session(&fs, fuse_args, &error) < 0)
		goto out;
	status = SV_EXIT_MOUNT;
	if (mount_view(&fs, &mounted, &error) < 0 || detach(opts, &error) < 0)
		goto out;

	block_signals(&sigs, &stop_signals);
	sigthread = pthread_create(&sigs.thread, NULL, signal_main, &sigs) == 0;
	watch = start_helpers(&fs);
	unblock_stop_signals(&stop_signals);

	notify_ready(opts);
	/* A stop by unmount or by signal is clean. */
	status = serve(&fs) >= 0 ? SV_EXIT_OK : SV_EXIT_RUNTIME;
	ignore_stop_signals();
#ifdef HAVE_LIBSYSTEMD
	sd_notify(0, "STOPPING=1");
#endif
out:
	sv_watch_stop(watch);
	if (sigthread)
		stop_signal_thread(&sigs);
	end_session(fs.se, mounted);
	if (fs.inodes && mounted &&
	    (caller == SV_DAEMON_STANDALONE || opts->debug || status != SV_EXIT_OK))
		log_stats(&fs);
	free_view(&fs);
	if (error) {
		g_printerr("storeview: %s\n", error);
		g_free(error);
	}
	return status;
}
