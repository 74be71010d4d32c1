/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * In-kernel hooks into iommufd and its selftest mock IOMMU, only for KUnit
 * tests of iommufd users such as VFIO. They run the real iommufd code; the
 * only fake is the mock IOMMU driver of drivers/iommu/iommufd/selftest.c.
 *
 * Available with CONFIG_IOMMUFD_TEST and CONFIG_KUNIT. The symbols live in
 * the EXPORTED_FOR_KUNIT_TESTING namespace, a test module needs
 * MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING").
 */
#ifndef __LINUX_IOMMUFD_KUNIT_H
#define __LINUX_IOMMUFD_KUNIT_H

#include <linux/types.h>

struct iommufd_ctx;

#if IS_ENABLED(CONFIG_IOMMUFD_TEST) && IS_ENABLED(CONFIG_KUNIT)
struct iommufd_ctx *iommufd_test_ctx_create(void);
void iommufd_test_ctx_destroy(struct iommufd_ctx *ictx);
#endif

#endif
