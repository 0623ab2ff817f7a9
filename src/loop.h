/*
 * The request loop.  libfuse's multithreaded loop leaves every idle thread
 * waiting on /dev/fuse, and the kernel hands each request to the one that
 * has waited longest: a cold thread, often on another CPU, so a lone
 * sequential client pays a thread switch per request.  Here one thread
 * listens at a time, the thread that answered a request listens for the
 * next, and another one is woken only when requests are already waiting.
 */
#ifndef STOREVIEW_LOOP_H
#define STOREVIEW_LOOP_H

#include <fuse_lowlevel.h>

/*
 * Serves se's requests with up to max_threads threads until the session
 * exits (unmount, or a signal caught by libfuse's handlers).  0 for a
 * clean stop, or a negative errno from /dev/fuse.
 */
int sv_loop_run(struct fuse_session *se, unsigned int max_threads);

#endif
