/* Where the daemon's messages go: stderr, or syslog once it is a daemon. */
#ifndef STOREVIEW_LOG_H
#define STOREVIEW_LOG_H

#include <stdbool.h>

void sv_log_init(bool debug);
void sv_log_to_syslog(void);

#endif
