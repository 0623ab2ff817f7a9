/*
 * Where the daemon's messages go.  glib's g_message()/g_warning()/g_debug()
 * are used throughout; this writer prints them as one "storeview: ..." line
 * on stderr, or sends them to syslog once the daemon has detached.
 */
#include "config.h"

#include <stdio.h>
#include <syslog.h>
#include <glib.h>

#include "log.h"

static bool log_debug;
static bool log_syslog;

static int syslog_priority(GLogLevelFlags level)
{
	if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
		return LOG_ERR;
	if (level & G_LOG_LEVEL_WARNING)
		return LOG_WARNING;
	if (level & G_LOG_LEVEL_DEBUG)
		return LOG_DEBUG;
	return LOG_INFO;
}

static GLogWriterOutput write_log(GLogLevelFlags level, const GLogField *fields,
				  gsize n_fields, gpointer user_data)
{
	const char *message = NULL;

	if ((level & G_LOG_LEVEL_DEBUG) && !log_debug)
		return G_LOG_WRITER_HANDLED;
	for (gsize i = 0; i < n_fields; i++)
		if (g_strcmp0(fields[i].key, "MESSAGE") == 0)
			message = fields[i].value;
	if (!message)
		return G_LOG_WRITER_UNHANDLED;
	if (log_syslog)
		syslog(syslog_priority(level), "%s", message);
	else
		fprintf(stderr, "storeview: %s%s\n",
			(level & G_LOG_LEVEL_WARNING) ? "warning: " : "", message);
	return G_LOG_WRITER_HANDLED;
}

void sv_log_init(bool debug)
{
	log_debug = debug;
	g_log_set_writer_func(write_log, NULL, NULL);
}

void sv_log_to_syslog(void)
{
	openlog("storeview", LOG_PID, LOG_DAEMON);
	log_syslog = true;
}
