/*
 * svnotify: what systemd would hear from a Type=notify service.
 *
 *   svnotify SOCKET SECONDS
 *
 * Binds a datagram socket at SOCKET (give it to the daemon as
 * NOTIFY_SOCKET), prints every line of every message received, and exits 0
 * after a message with STOPPING=1, or 1 when SECONDS pass first.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char buf[4096];
	time_t deadline;
	int fd;

	if (argc != 3 || strlen(argv[1]) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "usage: svnotify SOCKET SECONDS\n");
		return 2;
	}
	deadline = time(NULL) + atoi(argv[2]);
	strcpy(addr.sun_path, argv[1]);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		fprintf(stderr, "svnotify: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		time_t left = deadline - time(NULL);
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left * 1000) == 0) {
			fprintf(stderr, "svnotify: no STOPPING=1 within %s s\n", argv[2]);
			return 1;
		}
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n < 0)
			continue;
		buf[n] = '\0';
		printf("%s%s", buf, n > 0 && buf[n - 1] == '\n' ? "" : "\n");
		fflush(stdout);
		if (strstr(buf, "STOPPING=1"))
			return 0;
	}
}
