/* Scratch directories, and an fd count, for unit tests that need a real tree. */
#ifndef STOREVIEW_TEST_SCRATCH_H
#define STOREVIEW_TEST_SCRATCH_H

/* A new empty directory under the temporary directory; fails the test if it cannot be made. */
char *sv_scratch_new(const char *what);

/* Removes dir and everything below it, then frees the name. */
void sv_scratch_free(char *dir);

/* The number of fds this process holds. */
unsigned int sv_open_fds(void);

#endif
