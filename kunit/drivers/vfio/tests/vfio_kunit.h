/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers shared by the VFIO KUnit suites.
 */
#ifndef __VFIO_KUNIT_H
#define __VFIO_KUNIT_H

#include <kunit/test.h>

/*
 * A case that provokes a WARN on purpose brackets the call with these, so
 * that whoever reads the kernel log (a person, or a script that fails the run
 * on any WARNING it was not told about) knows which WARNINGs to expect
 * between the lines: one from @site for each begin line, in any order, and
 * no other. @site is "FILE:FUNCTION", the source file and the function in it
 * whose WARN fires: a WARNING report's "at FILE:LINE" names a line of it
 * (its symbol may be a caller the function was inlined into).
 */
static inline void vfio_kunit_expect_warning_begin(struct kunit *test,
						   const char *site)
{
	kunit_info(test, "vfio-kunit: expected WARNING from %s begins\n",
		   site);
}

static inline void vfio_kunit_expect_warning_end(struct kunit *test)
{
	kunit_info(test, "vfio-kunit: expected WARNING ends\n");
}

#endif /* __VFIO_KUNIT_H */
