/*
 * The request loop: one listener at a time, idle threads parked in a
 * stack so that the most recently busy one listens next, and a watchdog
 * that lets another thread listen when a request takes long.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <glib.h>
#include <linux/fuse.h>

#include "loop.h"

struct worker {
	struct loop *loop;
	pthread_t thread;
	pthread_cond_t wake;
	bool parked;
	struct worker *next_parked;
	struct worker *next;
	struct fuse_buf buf;
};

struct loop {
	struct fuse_session *se;
	unsigned int max_threads, threads;
	pthread_mutex_t lock;
	struct worker *workers;
	struct worker *parked;	/* a stack: the last thread parked is woken first */
	bool listening;		/* a thread is reading /dev/fuse, or about to */
	bool stopping;
	int error;
	sem_t stopped;
	unsigned long received;
	pthread_t watchdog;
	pthread_cond_t watchdog_wake;
	bool watchdog_asleep;
};

/*
 * A request that blocks (a cold disk, a slow SOURCE) must not hold up
 * those that come after it: past this long without a listener, another
 * thread listens.
 */
#define WATCHDOG_TICK_NS (2 * 1000 * 1000)
/* Idle that long, the watchdog sleeps until the next request. */
#define WATCHDOG_IDLE_TICKS 100

static void *worker_main(void *data);

/* Requests the kernel has queued that nobody reads yet. */
static bool requests_waiting(struct fuse_session *se)
{
	struct pollfd pfd = { .fd = fuse_session_fd(se), .events = POLLIN };

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
}

/* Requests that end with a close or a table update, and no client waits for. */
static bool quick_and_unawaited(const struct fuse_buf *buf)
{
	const struct fuse_in_header *in = buf->mem;

	if (buf->flags & FUSE_BUF_IS_FD)
		return false;
	switch (in->opcode) {
	case FUSE_FORGET:
	case FUSE_BATCH_FORGET:
	case FUSE_RELEASE:
	case FUSE_RELEASEDIR:
		return true;
	default:
		return false;
	}
}

/* Signals go to the main thread, which stops the loop. */
static int start_thread(pthread_t *thread, void *(*run)(void *), void *data)
{
	sigset_t all, old;
	int err;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = pthread_create(thread, NULL, run, data);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -err;
}

/* With loop->lock held and not stopping. */
static int start_worker(struct loop *loop)
{
	struct worker *worker = g_new0(struct worker, 1);
	int err;

	worker->loop = loop;
	pthread_cond_init(&worker->wake, NULL);
	err = start_thread(&worker->thread, worker_main, worker);
	if (err) {
		pthread_cond_destroy(&worker->wake);
		g_free(worker);
		return err;
	}
	worker->next = loop->workers;
	loop->workers = worker;
	loop->threads++;
	return 0;
}

/* With loop->lock held: someone else must read the requests waiting. */
static void let_another_listen(struct loop *loop)
{
	struct worker *worker = loop->parked;
	int err;

	if (worker) {
		loop->parked = worker->next_parked;
		worker->parked = false;
		pthread_cond_signal(&worker->wake);
	} else if (loop->threads < loop->max_threads && (err = start_worker(loop)) < 0) {
		g_debug("cannot start a request thread: %s", g_strerror(-err));
	}
}

/* With loop->lock held. */
static void stop(struct loop *loop, int error)
{
	struct worker *worker;

	if (!loop->error)
		loop->error = error;
	if (loop->stopping)
		return;
	loop->stopping = true;
	for (worker = loop->parked; worker; worker = worker->next_parked) {
		worker->parked = false;
		pthread_cond_signal(&worker->wake);
	}
	loop->parked = NULL;
	pthread_cond_signal(&loop->watchdog_wake);
	sem_post(&loop->stopped);
}

static void *watchdog_main(void *data)
{
	struct loop *loop = data;
	unsigned long seen = 0;
	unsigned int idle_ticks = 0;
	struct timespec tick;

	pthread_mutex_lock(&loop->lock);
	while (!loop->stopping) {
		if (idle_ticks >= WATCHDOG_IDLE_TICKS) {
			loop->watchdog_asleep = true;
			pthread_cond_wait(&loop->watchdog_wake, &loop->lock);
			loop->watchdog_asleep = false;
			idle_ticks = 0;
			seen = loop->received;
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &tick);
		tick.tv_nsec += WATCHDOG_TICK_NS;
		if (tick.tv_nsec >= 1000000000L) {
			tick.tv_sec++;
			tick.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&loop->watchdog_wake, &loop->lock, &tick);
		if (loop->stopping)
			break;
		/* Nothing received for a tick, and nobody listens: one is busy that long. */
		if (loop->received == seen) {
			if (!loop->listening)
				let_another_listen(loop);
			idle_ticks++;
		} else {
			idle_ticks = 0;
		}
		seen = loop->received;
	}
	pthread_mutex_unlock(&loop->lock);
	return NULL;
}

static void *worker_main(void *data)
{
	struct worker *self = data;
	struct loop *loop = self->loop;
	bool more;
	int res;

	/* Cancellation only ends a thread blocked on /dev/fuse. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	pthread_mutex_lock(&loop->lock);
	while (!loop->stopping) {
		if (loop->listening) {
			self->parked = true;
			self->next_parked = loop->parked;
			loop->parked = self;
			while (self->parked)
				pthread_cond_wait(&self->wake, &loop->lock);
			continue;
		}
		loop->listening = true;
		pthread_mutex_unlock(&loop->lock);

		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
		res = fuse_session_receive_buf(loop->se, &self->buf);
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
		/* Requests from clients that wait for them run in parallel. */
		more = res > 0 && loop->max_threads > 1 && !quick_and_unawaited(&self->buf) &&
		       requests_waiting(loop->se);

		pthread_mutex_lock(&loop->lock);
		loop->listening = false;
		if (res == -EINTR || res == -EAGAIN)
			continue;
		/* 0: unmounted, or the connection was aborted. */
		if (res <= 0 || fuse_session_exited(loop->se)) {
			stop(loop, res < 0 ? res : 0);
			break;
		}
		loop->received++;
		if (loop->watchdog_asleep)
			pthread_cond_signal(&loop->watchdog_wake);
		if (more)
			let_another_listen(loop);
		pthread_mutex_unlock(&loop->lock);

		fuse_session_process_buf(loop->se, &self->buf);
		pthread_mutex_lock(&loop->lock);
	}
	pthread_mutex_unlock(&loop->lock);
	return NULL;
}

int sv_loop_run(struct fuse_session *se, unsigned int max_threads)
{
	struct loop loop = { .se = se, .max_threads = max_threads };
	struct worker *worker;
	pthread_condattr_t monotonic;
	bool watchdog = false;
	int err;

	pthread_mutex_init(&loop.lock, NULL);
	pthread_condattr_init(&monotonic);
	pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);
	pthread_cond_init(&loop.watchdog_wake, &monotonic);
	pthread_condattr_destroy(&monotonic);
	sem_init(&loop.stopped, 0, 0);
	pthread_mutex_lock(&loop.lock);
	err = start_worker(&loop);
	pthread_mutex_unlock(&loop.lock);
	if (err < 0) {
		g_warning("cannot start a request thread: %s", g_strerror(-err));
		goto out;
	}
	if (max_threads > 1) {
		err = start_thread(&loop.watchdog, watchdog_main, &loop);
		if (err < 0)
			g_warning("cannot start the request watchdog: %s; a slow request "
				  "holds up the next ones", g_strerror(-err));
		watchdog = err == 0;
	}

	/* libfuse's signal handlers mark the session exited and interrupt this wait. */
	while (!fuse_session_exited(se) && sem_wait(&loop.stopped) < 0)
		;

	pthread_mutex_lock(&loop.lock);
	stop(&loop, 0);
	for (worker = loop.workers; worker; worker = worker->next)
		pthread_cancel(worker->thread);
	pthread_mutex_unlock(&loop.lock);

	if (watchdog)
		pthread_join(loop.watchdog, NULL);
	while ((worker = loop.workers)) {
		loop.workers = worker->next;
		pthread_join(worker->thread, NULL);
		pthread_cond_destroy(&worker->wake);
		free(worker->buf.mem);
		g_free(worker);
	}
	err = loop.error;
out:
	sem_destroy(&loop.stopped);
	pthread_cond_destroy(&loop.watchdog_wake);
	pthread_mutex_destroy(&loop.lock);
	return err;
}
