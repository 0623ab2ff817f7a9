/* Unit tests for virtfs.c: QEMU's mapped-xattr binary layout. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <check.h>

#include "suites.h"
#include "virtfs.h"

START_TEST(values_are_little_endian_and_sized_like_qemu)
{
	struct stat real = { .st_mode = S_IFREG | 04755, .st_uid = 0x01020304, .st_gid = 7 };
	unsigned char buf[16];

	ck_assert_int_eq(sv_virtfs_getxattr(&real, "user.virtfs.uid", NULL, 0), 4);
	ck_assert_int_eq(sv_virtfs_getxattr(&real, "user.virtfs.uid", buf, sizeof(buf)), 4);
	ck_assert(memcmp(buf, "\x04\x03\x02\x01", 4) == 0);
	ck_assert_int_eq(sv_virtfs_getxattr(&real, "user.virtfs.gid", buf, sizeof(buf)), 4);
	ck_assert(memcmp(buf, "\x07\x00\x00\x00", 4) == 0);
	ck_assert_int_eq(sv_virtfs_getxattr(&real, "user.virtfs.mode", buf, sizeof(buf)), 4);
	/* The whole st_mode, type bits included: QEMU replaces st_mode with it. */
	uint32_t mode = (uint32_t)buf[0] | (uint32_t)buf[1] << 8 | (uint32_t)buf[2] << 16 |
			(uint32_t)buf[3] << 24;
	ck_assert_uint_eq(mode, S_IFREG | 04755);
	ck_assert_int_eq(sv_virtfs_getxattr(&real, "user.virtfs.rdev", buf, sizeof(buf)), -ENODATA);
	ck_assert_int_eq(sv_virtfs_getxattr(&real, "user.other", buf, sizeof(buf)), -ENODATA);
	ck_assert_int_eq(sv_virtfs_getxattr(&real, "user.virtfs.uid", buf, 3), -ERANGE);
}
END_TEST

START_TEST(devices_carry_rdev)
{
	struct stat real = { .st_mode = S_IFCHR | 0666, .st_rdev = makedev(1, 3) };
	unsigned char buf[8];
	uint64_t rdev = 0;

	ck_assert_int_eq(sv_virtfs_getxattr(&real, "user.virtfs.rdev", buf, sizeof(buf)), 8);
	for (int i = 7; i >= 0; i--)
		rdev = rdev << 8 | buf[i];
	ck_assert_uint_eq(rdev, makedev(1, 3));
}
END_TEST

START_TEST(list_names)
{
	struct stat file = { .st_mode = S_IFREG | 0444 };
	struct stat dev = { .st_mode = S_IFBLK | 0600 };
	static const char expected[] = "user.virtfs.uid\0user.virtfs.gid\0user.virtfs.mode\0";
	static const char expected_dev[] = "user.virtfs.uid\0user.virtfs.gid\0user.virtfs.mode\0user.virtfs.rdev\0";
	char buf[128];

	ck_assert_int_eq(sv_virtfs_listxattr(&file, NULL, 0), sizeof(expected) - 1);
	ck_assert_int_eq(sv_virtfs_listxattr(&file, buf, sizeof(buf)), sizeof(expected) - 1);
	ck_assert(memcmp(buf, expected, sizeof(expected) - 1) == 0);
	ck_assert_int_eq(sv_virtfs_listxattr(&dev, buf, sizeof(buf)), sizeof(expected_dev) - 1);
	ck_assert(memcmp(buf, expected_dev, sizeof(expected_dev) - 1) == 0);
	ck_assert_int_eq(sv_virtfs_listxattr(&file, buf, 10), -ERANGE);
	ck_assert(sv_virtfs_is_synthesized("user.virtfs.mode"));
	ck_assert(!sv_virtfs_is_synthesized("user.virtfs.modex"));
}
END_TEST

START_TEST(symlinks_and_specials_shown_as_files)
{
	struct stat link = { .st_mode = S_IFLNK | 0777, .st_size = 13 };
	struct stat fifo = { .st_mode = S_IFIFO | 0644, .st_size = 0 };
	struct stat dev = { .st_mode = S_IFCHR | 0666, .st_rdev = makedev(1, 3) };
	struct stat dir = { .st_mode = S_IFDIR | 0555, .st_size = 4096 };

	sv_virtfs_present_attr(&link);
	ck_assert_uint_eq(link.st_mode, S_IFREG | 0444);
	ck_assert_int_eq(link.st_size, 13);	/* the target is the content */
	sv_virtfs_present_attr(&fifo);
	ck_assert_uint_eq(fifo.st_mode, S_IFREG | 0444);
	sv_virtfs_present_attr(&dev);
	ck_assert_uint_eq(dev.st_mode, S_IFREG | 0444);
	ck_assert_uint_eq(dev.st_rdev, 0);
	sv_virtfs_present_attr(&dir);
	ck_assert_uint_eq(dir.st_mode, S_IFDIR | 0555);
	ck_assert_int_eq(dir.st_size, 4096);
}
END_TEST

Suite *virtfs_suite(void)
{
	Suite *s = suite_create("virtfs");
	TCase *tc = tcase_create("virtfs");

	tcase_add_test(tc, values_are_little_endian_and_sized_like_qemu);
	tcase_add_test(tc, devices_carry_rdev);
	tcase_add_test(tc, list_names);
	tcase_add_test(tc, symlinks_and_specials_shown_as_files);
	suite_add_tcase(s, tc);
	return s;
}
