// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests for registering a vfio_device.
 *
 * With CONFIG_IOMMUFD a driver must provide all four iommufd callbacks of
 * struct vfio_device_ops (bind_iommufd, unbind_iommufd, attach_ioas and
 * detach_ioas): __vfio_register_dev() refuses a device that lacks one, with
 * a WARN and -EINVAL, and must leave nothing registered behind.
 */
#include <kunit/device.h>
#include <kunit/test.h>
#include <linux/vfio.h>

#include "vfio_kunit.h"

/* Where __vfio_register_dev() WARNs about incomplete iommufd ops */
#define VFIO_REGISTER_WARN "drivers/vfio/vfio_main.c:__vfio_register_dev"

enum vfio_registration_op {
	VFIO_REG_OP_NONE,
	VFIO_REG_OP_BIND,
	VFIO_REG_OP_UNBIND,
	VFIO_REG_OP_ATTACH,
	VFIO_REG_OP_DETACH,
};

struct vfio_registration_case {
	const char *desc;
	enum vfio_registration_op missing;
	int expected;
};

static const struct vfio_registration_case vfio_registration_cases[] = {
	{ "complete ops", VFIO_REG_OP_NONE, 0 },
	{ "no bind_iommufd", VFIO_REG_OP_BIND, -EINVAL },
	{ "no unbind_iommufd", VFIO_REG_OP_UNBIND, -EINVAL },
	{ "no attach_ioas", VFIO_REG_OP_ATTACH, -EINVAL },
	{ "no detach_ioas", VFIO_REG_OP_DETACH, -EINVAL },
};

static void vfio_registration_case_desc(const struct vfio_registration_case *c,
					char *desc)
{
	strscpy(desc, c->desc, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(vfio_registration, vfio_registration_cases,
		  vfio_registration_case_desc);

static const struct vfio_device_ops vfio_registration_complete_ops = {
	.name = "vfio-registration-kunit",
	.bind_iommufd = vfio_iommufd_emulated_bind,
	.unbind_iommufd = vfio_iommufd_emulated_unbind,
	.attach_ioas = vfio_iommufd_emulated_attach_ioas,
	.detach_ioas = vfio_iommufd_emulated_detach_ioas,
};

static void vfio_registration_drop_op(struct vfio_device_ops *ops,
				      enum vfio_registration_op op)
{
	switch (op) {
	case VFIO_REG_OP_NONE:
		break;
	case VFIO_REG_OP_BIND:
		ops->bind_iommufd = NULL;
		break;
	case VFIO_REG_OP_UNBIND:
		ops->unbind_iommufd = NULL;
		break;
	case VFIO_REG_OP_ATTACH:
		ops->attach_ioas = NULL;
		break;
	case VFIO_REG_OP_DETACH:
		ops->detach_ioas = NULL;
		break;
	}
}

KUNIT_DEFINE_ACTION_WRAPPER(vfio_registration_put, vfio_put_device,
			    struct vfio_device *);
KUNIT_DEFINE_ACTION_WRAPPER(vfio_registration_unregister,
			    vfio_unregister_group_dev, struct vfio_device *);

/*
 * Register an emulated-IOMMU device whose ops lack the callback the case
 * names. Complete ops register, and unregistering removes the device again;
 * incomplete ones fail with -EINVAL and a WARN, and leave the device neither
 * registered nor reference counted, so that freeing it is all that is left.
 */
static void vfio_registration_test(struct kunit *test)
{
	const struct vfio_registration_case *c = test->param_value;
	struct vfio_device_ops *ops;
	struct vfio_device *vdev;
	struct device *dev;
	int ret;

	ops = kunit_kmalloc(test, sizeof(*ops), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, ops);
	*ops = vfio_registration_complete_ops;
	vfio_registration_drop_op(ops, c->missing);

	dev = kunit_device_register(test, "vfio-registration");
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, dev);

	vdev = _vfio_alloc_device(sizeof(*vdev), dev, ops);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, vdev);
	ret = kunit_add_action_or_reset(test, vfio_registration_put, vdev);
	KUNIT_ASSERT_EQ(test, ret, 0);

	if (c->expected)
		vfio_kunit_expect_warning_begin(test, VFIO_REGISTER_WARN);
	ret = vfio_register_emulated_iommu_dev(vdev);
	if (c->expected)
		vfio_kunit_expect_warning_end(test);

	KUNIT_ASSERT_EQ(test, ret, c->expected);
	if (ret) {
		KUNIT_EXPECT_FALSE(test, device_is_registered(&vdev->device));
		KUNIT_EXPECT_EQ(test, refcount_read(&vdev->refcount), 0);
		return;
	}

	ret = kunit_add_action_or_reset(test, vfio_registration_unregister,
					vdev);
	KUNIT_ASSERT_EQ(test, ret, 0);
	KUNIT_EXPECT_TRUE(test, device_is_registered(&vdev->device));
	KUNIT_EXPECT_EQ(test, refcount_read(&vdev->refcount), 1);

	kunit_release_action(test, vfio_registration_unregister, vdev);
	KUNIT_EXPECT_FALSE(test, device_is_registered(&vdev->device));
	KUNIT_EXPECT_EQ(test, refcount_read(&vdev->refcount), 0);
}

static struct kunit_case vfio_registration_test_cases[] = {
	KUNIT_CASE_PARAM(vfio_registration_test, vfio_registration_gen_params),
	{}
};

static struct kunit_suite vfio_registration_test_suite = {
	.name = "vfio_registration",
	.test_cases = vfio_registration_test_cases,
};

kunit_test_suite(vfio_registration_test_suite);

MODULE_DESCRIPTION("KUnit tests for vfio_device registration");
MODULE_LICENSE("GPL");
