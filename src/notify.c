/* Notices to the kernel outside any request; see notify.h. */
#include "config.h"

#include <errno.h>
#include <sys/mount.h>
#include <time.h>
#include <glib.h>

#include "notify.h"

#define JOIN_GRACE_SECONDS 2

void sv_notify_join(struct sv_fs *fs, pthread_t thread, const char *what)
{
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += JOIN_GRACE_SECONDS;
	if (pthread_timedjoin_np(thread, NULL, &deadline) == 0)
		return;
	g_warning("%s waits on a request that will never be answered; aborting the connection",
		  what);
	/*
	 * Detached too: libfuse leaves a severed connection's mount in place,
	 * which would then answer ENOTCONN.
	 */
	if (umount2(fs->opts->mountpoint, MNT_FORCE | MNT_DETACH) < 0)
		g_warning("cannot abort the connection on '%s': %s", fs->opts->mountpoint,
			  g_strerror(errno));
	pthread_join(thread, NULL);
}
