/* The Check suites of the unit test program, one per source file. */
#ifndef STOREVIEW_TEST_SUITES_H
#define STOREVIEW_TEST_SUITES_H

#include <check.h>

Suite *options_suite(void);
Suite *ids_suite(void);
Suite *policy_suite(void);
Suite *acl_suite(void);
Suite *inodes_suite(void);
Suite *closure_suite(void);
Suite *virtfs_suite(void);
Suite *prefetch_suite(void);
Suite *readahead_suite(void);
#if !HAVE_DECL_FUSE_PASSTHROUGH_OPEN
Suite *init_suite(void);
#endif

#endif
