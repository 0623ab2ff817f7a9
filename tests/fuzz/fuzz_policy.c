/*
 * libFuzzer target: what a client (the kernel on behalf of a VM) sends that
 * policy.c judges: entry names and open flags.  A name that passes must be
 * one path component; a backing open must never be able to write or carry
 * O_NOATIME.
 */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[NAME_MAX + 16];
	size_t len = size < sizeof(name) - 1 ? size : sizeof(name) - 1;
	int client_flags = 0, backing_flags = 0;
	bool dropped;

	memcpy(name, data, len);
	name[len] = '\0';
	if (sv_policy_name_is_valid(name)) {
		size_t n = strlen(name);

		if (n == 0 || n > NAME_MAX || strchr(name, '/') ||
		    strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			abort();
	}

	memcpy(&client_flags, data, size < sizeof(client_flags) ? size : sizeof(client_flags));
	if (sv_policy_backing_open_flags(client_flags, &backing_flags, &dropped) == 0) {
		if ((backing_flags & O_ACCMODE) != O_RDONLY ||
		    (backing_flags & (O_NOATIME | O_TRUNC | O_CREAT | O_APPEND | O_PATH)) ||
		    !(backing_flags & O_NOFOLLOW))
			abort();
	}
	if (dropped != ((client_flags & O_NOATIME) != 0))
		abort();
	return 0;
}
