/* Runs every unit suite; Check prints the summary line automake shows. */
#include "config.h"

#include <stdlib.h>
#include <check.h>

#include "suites.h"

int main(void)
{
	SRunner *runner = srunner_create(options_suite());
	int failed;

	srunner_add_suite(runner, ids_suite());
	srunner_add_suite(runner, policy_suite());
	srunner_add_suite(runner, acl_suite());
	srunner_add_suite(runner, inodes_suite());
	srunner_add_suite(runner, closure_suite());
	srunner_add_suite(runner, virtfs_suite());
	srunner_add_suite(runner, prefetch_suite());
	srunner_add_suite(runner, readahead_suite());
#if !HAVE_DECL_FUSE_PASSTHROUGH_OPEN
	srunner_add_suite(runner, init_suite());
#endif
	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
