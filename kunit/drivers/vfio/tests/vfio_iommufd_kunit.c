// SPDX-License-Identifier: GPL-2.0-only
/*
 * Conformance tests for the iommufd callbacks of struct vfio_device_ops.
 *
 * Each case is one behaviour of the contract of
 * Documentation/driver-api/vfio.rst ("The iommufd callbacks"), run on every
 * driver of a table of drivers under test, its parameter: adding a driver
 * adds a parameter. A case that is not for a driver's kind of device
 * (physical or emulated) skips. The cases call a driver's ops as the VFIO
 * core does, with dev_set->lock held, on real iommufd objects: a context,
 * IOASes and HWPTs made through iommufd's KUnit hooks, and, for physical
 * devices, the mock IOMMU of CONFIG_IOMMUFD_TEST. Every case checks return
 * codes and the state they leave: the attached flag, the page table id
 * written back, which objects iommufd still holds (IOMMU_DESTROY's -EBUSY
 * and -ENOENT), and the dma_unmap calls an emulated driver received. After
 * each case, everything it made must go away cleanly.
 *
 * The PASID cases run on physical drivers, whose devices have PASIDs: the
 * mock IOMMU's devices made with MOCK_FLAGS_DEVICE_PASID. A physical driver
 * without the two PASID callbacks skips them, and says so.
 */
#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/debug_locks.h>
#include <linux/idr.h>
#include <linux/iommufd.h>
#include <linux/iommufd_kunit.h>
#include <linux/kthread.h>
#include <linux/limits.h>
#include <linux/vfio.h>

#include "vfio_kunit.h"
#include "vfio_sample.h"

/* The kinds of vfio_device the contract distinguishes */
enum vfio_conf_kind {
	VFIO_CONF_PHYSICAL = BIT(0),
	VFIO_CONF_EMULATED = BIT(1),
};

#define VFIO_CONF_ANY (VFIO_CONF_PHYSICAL | VFIO_CONF_EMULATED)

/* An id no object has */
#define VFIO_CONF_NO_ID U32_MAX

/* PASIDs of the cases, and the one whose every second attach the mock fails */
#define VFIO_CONF_PASID		1
#define VFIO_CONF_PASID_2	2
#define VFIO_CONF_PASID_FAILS	1024

/**
 * struct vfio_conf_driver - A driver under test
 * @name: Row name in the results
 * @kind: Physical or emulated
 * @create: Make and register a device; @group_peer asks for a device in the
 *          iommu_group of another one (physical drivers only)
 * @destroy: Unregister and free a device from @create
 * @unmaps: Emulated drivers: number of dma_unmap calls so far, and the last
 * @attach_asserts: The lockdep assertions that WARN when attach_ioas runs
 *                  without dev_set->lock, each as "FILE:FUNCTION" of the
 *                  function the assertion is in
 * @detach_asserts: The same for detach_ioas
 * @skip: Why this build cannot test the driver, or NULL: its cases skip
 */
struct vfio_conf_driver {
	const char *name;
	enum vfio_conf_kind kind;
	struct vfio_device *(*create)(struct vfio_device *group_peer);
	void (*destroy)(struct vfio_device *vdev);
	unsigned int (*unmaps)(struct vfio_device *vdev,
			       struct vfio_sample_unmap *last);
	const char * const *attach_asserts;
	const char * const *detach_asserts;
	const char *skip;
};

/* The WARN sites of the vfio_iommufd_*() helpers, as "FILE:FUNCTION" */
#define VFIO_CONF_PHYS_ATTACH \
	"drivers/vfio/iommufd.c:vfio_iommufd_physical_attach_ioas"
#define VFIO_CONF_PHYS_DETACH \
	"drivers/vfio/iommufd.c:vfio_iommufd_physical_detach_ioas"
#define VFIO_CONF_EMUL_ATTACH \
	"drivers/vfio/iommufd.c:vfio_iommufd_emulated_attach_ioas"
#define VFIO_CONF_EMUL_DETACH \
	"drivers/vfio/iommufd.c:vfio_iommufd_emulated_detach_ioas"

/* Drivers whose callbacks are the vfio_iommufd_*() helpers */
static const char * const vfio_conf_phys_attach_asserts[] = {
	VFIO_CONF_PHYS_ATTACH, NULL
};

static const char * const vfio_conf_phys_detach_asserts[] = {
	VFIO_CONF_PHYS_DETACH, NULL
};

static const char * const vfio_conf_emul_attach_asserts[] = {
	VFIO_CONF_EMUL_ATTACH, NULL
};

static const char * const vfio_conf_emul_detach_asserts[] = {
	VFIO_CONF_EMUL_DETACH, NULL
};

static const struct vfio_conf_driver vfio_conf_drivers[] = {
	{
		.name = "c-physical",
		.kind = VFIO_CONF_PHYSICAL,
		.create = vfio_sample_phys_create,
		.destroy = vfio_sample_phys_destroy,
		.attach_asserts = vfio_conf_phys_attach_asserts,
		.detach_asserts = vfio_conf_phys_detach_asserts,
	},
	{
		.name = "c-emulated",
		.kind = VFIO_CONF_EMULATED,
		.create = vfio_sample_emul_create,
		.destroy = vfio_sample_emul_destroy,
		.unmaps = vfio_sample_emul_unmaps,
		.attach_asserts = vfio_conf_emul_attach_asserts,
		.detach_asserts = vfio_conf_emul_detach_asserts,
	},
};

/**
 * struct vfio_conf - What one case works on
 * @test: The running test
 * @drv: The driver under test
 * @ictx: The iommufd context, as if user space had opened /dev/iommu
 * @vdev: The device under test
 * @dev_id: Object id bind_iommufd returned
 * @bound: bind_iommufd succeeded and unbind_iommufd was not called yet
 * @ioas_id: An IOAS every case starts with
 * @ioas_destroyed: The case destroyed it
 * @auto_hwpt: Physical: the automatic HWPT of the last attach to an IOAS
 * @hwpt_dev: A mock device bound to @ictx directly, to allocate HWPTs on
 * @hwpt_idev: Its iommufd_device
 * @hwpt_dev_id: Its object id
 */
struct vfio_conf {
	struct kunit *test;
	const struct vfio_conf_driver *drv;
	struct iommufd_ctx *ictx;
	struct vfio_device *vdev;
	u32 dev_id;
	bool bound;
	u32 ioas_id;
	bool ioas_destroyed;
	u32 auto_hwpt;
	struct device *hwpt_dev;
	struct iommufd_device *hwpt_idev;
	u32 hwpt_dev_id;
};

static bool is_physical(struct vfio_conf *c)
{
	return c->drv->kind == VFIO_CONF_PHYSICAL;
}

/* The callbacks, called as the VFIO core calls them: under dev_set->lock */

static int conf_bind_dev(struct vfio_device *vdev, struct iommufd_ctx *ictx,
			 u32 *dev_id)
{
	int ret;

	mutex_lock(&vdev->dev_set->lock);
	ret = vdev->ops->bind_iommufd(vdev, ictx, dev_id);
	mutex_unlock(&vdev->dev_set->lock);
	return ret;
}

static void conf_unbind_dev(struct vfio_device *vdev)
{
	mutex_lock(&vdev->dev_set->lock);
	vdev->ops->unbind_iommufd(vdev);
	mutex_unlock(&vdev->dev_set->lock);
}

static int conf_attach_dev(struct vfio_device *vdev, u32 *pt_id)
{
	int ret;

	mutex_lock(&vdev->dev_set->lock);
	ret = vdev->ops->attach_ioas(vdev, pt_id);
	mutex_unlock(&vdev->dev_set->lock);
	return ret;
}

static void conf_detach_dev(struct vfio_device *vdev)
{
	mutex_lock(&vdev->dev_set->lock);
	vdev->ops->detach_ioas(vdev);
	mutex_unlock(&vdev->dev_set->lock);
}

static void conf_bind(struct vfio_conf *c)
{
	KUNIT_ASSERT_EQ(c->test, conf_bind_dev(c->vdev, c->ictx, &c->dev_id),
			0);
	c->bound = true;
}

static void conf_unbind(struct vfio_conf *c)
{
	conf_unbind_dev(c->vdev);
	c->bound = false;
}

/* Attach to @pt_id; on success, remember an automatic HWPT */
static int conf_attach(struct vfio_conf *c, u32 *pt_id)
{
	u32 requested = *pt_id;
	int ret;

	ret = conf_attach_dev(c->vdev, pt_id);
	if (!ret && is_physical(c) && requested == c->ioas_id)
		c->auto_hwpt = *pt_id;
	return ret;
}

/* Attach to the case's IOAS, which must succeed; returns the page table id */
static u32 conf_attach_ioas(struct vfio_conf *c)
{
	u32 pt_id = c->ioas_id;

	KUNIT_ASSERT_EQ(c->test, conf_attach(c, &pt_id), 0);
	return pt_id;
}

static void conf_detach(struct vfio_conf *c)
{
	conf_detach_dev(c->vdev);
}

static bool conf_attached(struct vfio_conf *c)
{
	return c->vdev->iommufd_attached;
}

static int conf_destroy(struct vfio_conf *c, u32 id)
{
	int ret = iommufd_test_destroy(c->ictx, id);

	if (!ret && id == c->ioas_id)
		c->ioas_destroyed = true;
	return ret;
}

static u32 conf_new_ioas(struct vfio_conf *c)
{
	u32 id;

	KUNIT_ASSERT_EQ(c->test, iommufd_test_ioas_alloc(c->ictx, &id), 0);
	return id;
}

/*
 * An HWPT on @ioas_id with @flags (IOMMU_HWPT_ALLOC_*), allocated through a
 * mock device of its own
 */
static u32 conf_new_hwpt_flags(struct vfio_conf *c, u32 ioas_id, u32 flags)
{
	u32 id;
	int ret;

	if (!c->hwpt_dev) {
		struct iommufd_device *idev;
		struct device *dev;

		dev = iommufd_test_mock_dev_create(0, NULL, NULL);
		KUNIT_ASSERT_NOT_ERR_OR_NULL(c->test, dev);
		c->hwpt_dev = dev;
		idev = iommufd_device_bind(c->ictx, dev, &c->hwpt_dev_id);
		KUNIT_ASSERT_NOT_ERR_OR_NULL(c->test, idev);
		c->hwpt_idev = idev;
	}
	ret = iommufd_test_hwpt_alloc(c->ictx, c->hwpt_dev_id, ioas_id, flags,
				      &id);
	KUNIT_ASSERT_EQ(c->test, ret, 0);
	return id;
}

static u32 conf_new_hwpt(struct vfio_conf *c, u32 ioas_id)
{
	return conf_new_hwpt_flags(c, ioas_id, 0);
}

/*
 * An HWPT on the case's IOAS that PASIDs can attach to; while a PASID is
 * attached, the RID can attach only to such an HWPT too
 */
static u32 conf_new_pasid_hwpt(struct vfio_conf *c)
{
	return conf_new_hwpt_flags(c, c->ioas_id, IOMMU_HWPT_ALLOC_PASID);
}

static unsigned int conf_unmaps(struct vfio_conf *c,
				struct vfio_sample_unmap *last)
{
	return c->drv->unmaps(c->vdev, last);
}

/* The last dma_unmap call covered the whole IOVA space */
static void conf_expect_unmap_all(struct vfio_conf *c, unsigned int calls)
{
	struct vfio_sample_unmap last = {};

	KUNIT_EXPECT_EQ(c->test, conf_unmaps(c, &last), calls);
	KUNIT_EXPECT_EQ(c->test, last.iova, 0);
	KUNIT_EXPECT_EQ(c->test, last.length, (u64)ULONG_MAX);
}

/* Announce the lockdep WARNINGs of a callback run without dev_set->lock */
static void conf_expect_lock_warnings(struct vfio_conf *c,
				      const char * const *sites)
{
	for (; *sites; sites++)
		vfio_kunit_expect_warning_begin(c->test, *sites);
}

/*
 * The callbacks check that dev_set->lock is held. Called without it,
 * attach_ioas and detach_ioas report it through lockdep (and still work).
 */
static void vfio_conf_lock_asserted(struct vfio_conf *c)
{
	u32 pt_id = c->ioas_id;
	int ret;

	if (!IS_ENABLED(CONFIG_LOCKDEP))
		kunit_skip(c->test, "needs CONFIG_LOCKDEP");
	if (!debug_locks)
		kunit_skip(c->test, "lockdep is off, an earlier report turned it off");
	conf_bind(c);

	conf_expect_lock_warnings(c, c->drv->attach_asserts);
	ret = c->vdev->ops->attach_ioas(c->vdev, &pt_id);
	vfio_kunit_expect_warning_end(c->test);
	KUNIT_ASSERT_EQ(c->test, ret, 0);
	KUNIT_EXPECT_TRUE(c->test, conf_attached(c));
	if (is_physical(c))
		c->auto_hwpt = pt_id;

	conf_expect_lock_warnings(c, c->drv->detach_asserts);
	c->vdev->ops->detach_ioas(c->vdev);
	vfio_kunit_expect_warning_end(c->test);
	KUNIT_EXPECT_FALSE(c->test, conf_attached(c));
}

/* A physical device that is not bound refuses attach, with a WARN */
static void vfio_conf_attach_unbound(struct vfio_conf *c)
{
	u32 pt_id = c->ioas_id;
	int ret;

	vfio_kunit_expect_warning_begin(c->test, VFIO_CONF_PHYS_ATTACH);
	ret = conf_attach(c, &pt_id);
	vfio_kunit_expect_warning_end(c->test);
	KUNIT_EXPECT_EQ(c->test, ret, -EINVAL);
	KUNIT_EXPECT_EQ(c->test, pt_id, c->ioas_id);
	KUNIT_EXPECT_FALSE(c->test, conf_attached(c));
}

/* Detach of a physical device that is not bound WARNs and does nothing */
static void vfio_conf_detach_unbound(struct vfio_conf *c)
{
	vfio_kunit_expect_warning_begin(c->test, VFIO_CONF_PHYS_DETACH);
	conf_detach(c);
	vfio_kunit_expect_warning_end(c->test);
	KUNIT_EXPECT_FALSE(c->test, conf_attached(c));
	/* Still usable afterwards */
	conf_bind(c);
	conf_attach_ioas(c);
	KUNIT_EXPECT_TRUE(c->test, conf_attached(c));
}

/*
 * Attach to an IOAS. A physical device gets an automatic HWPT, whose id
 * is written back and which is in use; an emulated one uses the IOAS itself.
 */
static void vfio_conf_attach_ioas(struct vfio_conf *c)
{
	u32 pt_id;

	conf_bind(c);
	pt_id = conf_attach_ioas(c);
	KUNIT_EXPECT_TRUE(c->test, conf_attached(c));
	if (is_physical(c)) {
		KUNIT_EXPECT_NE(c->test, pt_id, c->ioas_id);
		KUNIT_EXPECT_EQ(c->test, conf_destroy(c, pt_id), -EBUSY);
	} else {
		KUNIT_EXPECT_EQ(c->test, pt_id, c->ioas_id);
	}
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, c->ioas_id), -EBUSY);
}

/* Attach of a physical device to an HWPT keeps that id */
static void vfio_conf_attach_hwpt(struct vfio_conf *c)
{
	u32 hwpt = conf_new_hwpt(c, c->ioas_id);
	u32 pt_id = hwpt;

	conf_bind(c);
	KUNIT_ASSERT_EQ(c->test, conf_attach(c, &pt_id), 0);
	KUNIT_EXPECT_EQ(c->test, pt_id, hwpt);
	KUNIT_EXPECT_TRUE(c->test, conf_attached(c));
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, hwpt), -EBUSY);

	conf_detach(c);
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, hwpt), 0);
}

/* Attach to an id that does not exist fails and attaches nothing */
static void vfio_conf_attach_unknown(struct vfio_conf *c)
{
	u32 pt_id = VFIO_CONF_NO_ID;

	conf_bind(c);
	KUNIT_EXPECT_EQ(c->test, conf_attach(c, &pt_id), -ENOENT);
	KUNIT_EXPECT_FALSE(c->test, conf_attached(c));
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, c->ioas_id), 0);
}

/* A physical device cannot attach to an object that is no page table */
static void vfio_conf_attach_wrong_type(struct vfio_conf *c)
{
	u32 pt_id;

	conf_bind(c);
	pt_id = c->dev_id;
	KUNIT_EXPECT_EQ(c->test, conf_attach(c, &pt_id), -EINVAL);
	KUNIT_EXPECT_EQ(c->test, pt_id, c->dev_id);
	KUNIT_EXPECT_FALSE(c->test, conf_attached(c));
}

/* An emulated device only attaches to IOASes, an HWPT id is unknown */
static void vfio_conf_emulated_attach_hwpt(struct vfio_conf *c)
{
	u32 hwpt = conf_new_hwpt(c, c->ioas_id);
	u32 pt_id = hwpt;

	conf_bind(c);
	KUNIT_EXPECT_EQ(c->test, conf_attach(c, &pt_id), -ENOENT);
	KUNIT_EXPECT_FALSE(c->test, conf_attached(c));
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, hwpt), 0);
}

/*
 * Attach while attached replaces the page table, never -EBUSY. The old
 * one is released: its IOAS can be destroyed, an automatic HWPT is gone.
 */
static void vfio_conf_replace_other(struct vfio_conf *c)
{
	u32 other = conf_new_ioas(c);
	u32 first, pt_id = other;

	conf_bind(c);
	first = conf_attach_ioas(c);

	KUNIT_ASSERT_EQ(c->test, conf_attach(c, &pt_id), 0);
	KUNIT_EXPECT_TRUE(c->test, conf_attached(c));
	if (is_physical(c)) {
		KUNIT_EXPECT_NE(c->test, pt_id, first);
		KUNIT_EXPECT_NE(c->test, pt_id, other);
		KUNIT_EXPECT_EQ(c->test, conf_destroy(c, first), -ENOENT);
		KUNIT_EXPECT_EQ(c->test, conf_destroy(c, pt_id), -EBUSY);
		c->auto_hwpt = pt_id;
	} else {
		KUNIT_EXPECT_EQ(c->test, pt_id, other);
	}
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, other), -EBUSY);
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, c->ioas_id), 0);

	conf_unbind(c);
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, other), 0);
}

/* Attaching again to what is attached is a no-op that returns 0 */
static void vfio_conf_replace_same(struct vfio_conf *c)
{
	u32 first, pt_id;

	conf_bind(c);
	first = conf_attach_ioas(c);
	pt_id = conf_attach_ioas(c);
	KUNIT_EXPECT_EQ(c->test, pt_id, first);
	KUNIT_EXPECT_TRUE(c->test, conf_attached(c));

	/* A physical device also accepts the HWPT id it was given */
	if (is_physical(c)) {
		KUNIT_EXPECT_EQ(c->test, conf_attach(c, &pt_id), 0);
		KUNIT_EXPECT_EQ(c->test, pt_id, first);
		KUNIT_EXPECT_EQ(c->test, conf_destroy(c, first), -EBUSY);
	}
}

/* A failed replace leaves the previous attachment in place */
static void vfio_conf_replace_fails(struct vfio_conf *c)
{
	u32 first, pt_id = VFIO_CONF_NO_ID;

	conf_bind(c);
	first = conf_attach_ioas(c);
	KUNIT_EXPECT_EQ(c->test, conf_attach(c, &pt_id), -ENOENT);
	KUNIT_EXPECT_TRUE(c->test, conf_attached(c));
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, first), -EBUSY);
}

/* Detach when not attached, and twice, does nothing (and no WARN) */
static void vfio_conf_detach_idempotent(struct vfio_conf *c)
{
	conf_bind(c);
	conf_detach(c);
	KUNIT_EXPECT_FALSE(c->test, conf_attached(c));

	conf_attach_ioas(c);
	conf_detach(c);
	conf_detach(c);
	KUNIT_EXPECT_FALSE(c->test, conf_attached(c));
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, c->ioas_id), 0);
}

/* Detach drops an automatic HWPT, and the device can attach again */
static void vfio_conf_detach_reattach(struct vfio_conf *c)
{
	u32 pt_id;

	conf_bind(c);
	pt_id = conf_attach_ioas(c);
	conf_detach(c);
	KUNIT_EXPECT_FALSE(c->test, conf_attached(c));
	if (is_physical(c))
		KUNIT_EXPECT_EQ(c->test, conf_destroy(c, pt_id), -ENOENT);

	conf_attach_ioas(c);
	KUNIT_EXPECT_TRUE(c->test, conf_attached(c));
}

/*
 * What a device uses cannot be destroyed: its attached page tables and,
 * while bound, its own object. After detach the page tables can go.
 */
static void vfio_conf_busy_while_attached(struct vfio_conf *c)
{
	u32 pt_id;

	conf_bind(c);
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, c->dev_id), -EBUSY);
	pt_id = conf_attach_ioas(c);
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, c->ioas_id), -EBUSY);
	if (is_physical(c))
		KUNIT_EXPECT_EQ(c->test, conf_destroy(c, pt_id), -EBUSY);
	KUNIT_EXPECT_TRUE(c->test, conf_attached(c));

	conf_detach(c);
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, c->ioas_id), 0);
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, c->dev_id), -EBUSY);
}

/* Unbind while attached detaches first */
static void vfio_conf_unbind_attached(struct vfio_conf *c)
{
	conf_bind(c);
	conf_attach_ioas(c);
	conf_unbind(c);
	KUNIT_EXPECT_FALSE(c->test, conf_attached(c));
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, c->dev_id), -ENOENT);
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, c->ioas_id), 0);
}

/* Bind creates the iommufd_access whose id bind returns; no unmap */
static void vfio_conf_emulated_bind(struct vfio_conf *c)
{
	conf_bind(c);
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, c->dev_id), -EBUSY);
	KUNIT_EXPECT_EQ(c->test, conf_unmaps(c, NULL), 0);
	conf_attach_ioas(c);
	KUNIT_EXPECT_EQ(c->test, conf_unmaps(c, NULL), 0);
}

/* Detach asks the driver to unmap everything, once */
static void vfio_conf_emulated_detach_unmaps(struct vfio_conf *c)
{
	conf_bind(c);
	conf_attach_ioas(c);
	conf_detach(c);
	conf_expect_unmap_all(c, 1);
	conf_detach(c);
	KUNIT_EXPECT_EQ(c->test, conf_unmaps(c, NULL), 1);
}

/* Unbind of an attached device unmaps everything, once */
static void vfio_conf_emulated_unbind_unmaps(struct vfio_conf *c)
{
	conf_bind(c);
	conf_attach_ioas(c);
	conf_unbind(c);
	conf_expect_unmap_all(c, 1);
}

/* Replace onto another IOAS unmaps everything; onto the same, nothing */
static void vfio_conf_emulated_replace_unmaps(struct vfio_conf *c)
{
	u32 other = conf_new_ioas(c);

	conf_bind(c);
	conf_attach_ioas(c);
	conf_attach_ioas(c);
	KUNIT_EXPECT_EQ(c->test, conf_unmaps(c, NULL), 0);

	KUNIT_ASSERT_EQ(c->test, conf_attach(c, &other), 0);
	conf_expect_unmap_all(c, 1);

	conf_unbind(c);
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, other), 0);
}

/* A second device of the driver under test, in the same iommu_group */
struct vfio_conf_peer {
	struct vfio_conf *c;
	struct vfio_device *vdev;
	u32 dev_id;
	bool bound;
};

static void vfio_conf_peer_action(void *data)
{
	struct vfio_conf_peer *peer = data;

	if (peer->bound)
		conf_unbind_dev(peer->vdev);
	peer->c->drv->destroy(peer->vdev);
}

/*
 * The devices of one iommu_group share one page table: a second device
 * cannot attach to another HWPT than the first one's.
 */
static void vfio_conf_group_shares_hwpt(struct vfio_conf *c)
{
	u32 hwpt = conf_new_hwpt(c, c->ioas_id);
	struct vfio_conf_peer *peer;
	u32 pt_id = hwpt;
	int ret;

	peer = kunit_kzalloc(c->test, sizeof(*peer), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(c->test, peer);
	peer->c = c;
	peer->vdev = c->drv->create(c->vdev);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(c->test, peer->vdev);
	ret = kunit_add_action_or_reset(c->test, vfio_conf_peer_action, peer);
	KUNIT_ASSERT_EQ(c->test, ret, 0);
	KUNIT_ASSERT_PTR_EQ(c->test, peer->vdev->dev->iommu_group,
			    c->vdev->dev->iommu_group);

	/* Both devices exist before either is bound */
	conf_bind(c);
	ret = conf_bind_dev(peer->vdev, c->ictx, &peer->dev_id);
	KUNIT_ASSERT_EQ(c->test, ret, 0);
	peer->bound = true;

	conf_attach_ioas(c);
	ret = conf_attach_dev(peer->vdev, &pt_id);
	KUNIT_EXPECT_EQ(c->test, ret, -EINVAL);
	KUNIT_EXPECT_EQ(c->test, pt_id, hwpt);
	KUNIT_EXPECT_FALSE(c->test, peer->vdev->iommufd_attached);

	kunit_release_action(c->test, vfio_conf_peer_action, peer);
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, peer->dev_id), -ENOENT);
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, hwpt), 0);
}

/* The PASID callbacks, called as the VFIO core calls them */

static int conf_pasid_attach_dev(struct vfio_device *vdev, u32 pasid,
				 u32 *pt_id)
{
	int ret;

	mutex_lock(&vdev->dev_set->lock);
	ret = vdev->ops->pasid_attach_ioas(vdev, pasid, pt_id);
	mutex_unlock(&vdev->dev_set->lock);
	return ret;
}

static void conf_pasid_detach_dev(struct vfio_device *vdev, u32 pasid)
{
	mutex_lock(&vdev->dev_set->lock);
	vdev->ops->pasid_detach_ioas(vdev, pasid);
	mutex_unlock(&vdev->dev_set->lock);
}

/* Bind, after checking that the driver has the PASID callbacks */
static void conf_pasid_bind(struct vfio_conf *c)
{
	const struct vfio_device_ops *ops = c->vdev->ops;

	if (!ops->pasid_attach_ioas || !ops->pasid_detach_ioas)
		kunit_skip(c->test, "the driver has no PASID callbacks");
	conf_bind(c);
}

/* Attach @pasid to @pt_id, which must succeed and keep its id */
static void conf_pasid_attach(struct vfio_conf *c, u32 pasid, u32 pt_id)
{
	u32 id = pt_id;

	KUNIT_ASSERT_EQ(c->test, conf_pasid_attach_dev(c->vdev, pasid, &id), 0);
	KUNIT_EXPECT_EQ(c->test, id, pt_id);
}

/* Attach the RID to @pt_id, which must succeed */
static void conf_attach_pt(struct vfio_conf *c, u32 pt_id)
{
	KUNIT_ASSERT_EQ(c->test, conf_attach(c, &pt_id), 0);
}

/* Whether @pasid is attached, as the vfio_iommufd_physical_*() helpers say */
static bool conf_pasid_attached(struct vfio_conf *c, u32 pasid)
{
	return ida_exists(&c->vdev->pasids, pasid);
}

/*
 * A PASID attach attaches that PASID alone: the RID keeps its table, the
 * other PASIDs stay detached, and both tables are in use.
 */
static void vfio_conf_pasid_attach_keeps_rid(struct vfio_conf *c)
{
	u32 rid_hwpt = conf_new_pasid_hwpt(c);
	u32 hwpt = conf_new_pasid_hwpt(c);

	conf_pasid_bind(c);
	conf_attach_pt(c, rid_hwpt);
	conf_pasid_attach(c, VFIO_CONF_PASID, hwpt);
	KUNIT_EXPECT_TRUE(c->test, conf_pasid_attached(c, VFIO_CONF_PASID));
	KUNIT_EXPECT_FALSE(c->test, conf_pasid_attached(c, VFIO_CONF_PASID_2));
	KUNIT_EXPECT_TRUE(c->test, conf_attached(c));
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, rid_hwpt), -EBUSY);
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, hwpt), -EBUSY);

	conf_pasid_detach_dev(c->vdev, VFIO_CONF_PASID);
	conf_detach(c);
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, hwpt), 0);
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, rid_hwpt), 0);
}

/*
 * A PASID attach straight to an IOAS fails with -EINVAL: the HWPT iommufd
 * makes for it is not allocated for PASIDs (IOMMU_HWPT_ALLOC_PASID). Nothing
 * is attached and no automatic HWPT is left on the IOAS.
 */
static void vfio_conf_pasid_attach_ioas_fails(struct vfio_conf *c)
{
	u32 pt_id = c->ioas_id;

	conf_pasid_bind(c);
	KUNIT_EXPECT_EQ(c->test,
			conf_pasid_attach_dev(c->vdev, VFIO_CONF_PASID, &pt_id),
			-EINVAL);
	KUNIT_EXPECT_EQ(c->test, pt_id, c->ioas_id);
	KUNIT_EXPECT_FALSE(c->test, conf_pasid_attached(c, VFIO_CONF_PASID));
	KUNIT_EXPECT_FALSE(c->test, conf_attached(c));
}

/* A PASID attach of an attached PASID replaces its table */
static void vfio_conf_pasid_replace(struct vfio_conf *c)
{
	u32 hwpt_a = conf_new_pasid_hwpt(c);
	u32 hwpt_b = conf_new_pasid_hwpt(c);

	conf_pasid_bind(c);
	conf_pasid_attach(c, VFIO_CONF_PASID, hwpt_a);
	conf_pasid_attach(c, VFIO_CONF_PASID, hwpt_b);
	KUNIT_EXPECT_TRUE(c->test, conf_pasid_attached(c, VFIO_CONF_PASID));
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, hwpt_a), 0);
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, hwpt_b), -EBUSY);

	conf_pasid_detach_dev(c->vdev, VFIO_CONF_PASID);
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, hwpt_b), 0);
}

/*
 * A replace the IOMMU driver fails keeps the PASID on its table: the mock
 * IOMMU fails every second attach of PASID 1024, its replace here.
 */
static void vfio_conf_pasid_failed_replace_keeps_table(struct vfio_conf *c)
{
	u32 hwpt_a = conf_new_pasid_hwpt(c);
	u32 hwpt_b = conf_new_pasid_hwpt(c);
	u32 pt_id = hwpt_b;

	conf_pasid_bind(c);
	conf_pasid_attach(c, VFIO_CONF_PASID_FAILS, hwpt_a);
	KUNIT_EXPECT_LT(c->test, conf_pasid_attach_dev(c->vdev,
						       VFIO_CONF_PASID_FAILS,
						       &pt_id), 0);
	KUNIT_EXPECT_TRUE(c->test,
			  conf_pasid_attached(c, VFIO_CONF_PASID_FAILS));
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, hwpt_a), -EBUSY);
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, hwpt_b), 0);

	conf_pasid_detach_dev(c->vdev, VFIO_CONF_PASID_FAILS);
	KUNIT_EXPECT_FALSE(c->test,
			   conf_pasid_attached(c, VFIO_CONF_PASID_FAILS));
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, hwpt_a), 0);
}

/* A PASID detach detaches that PASID alone */
static void vfio_conf_pasid_detach_keeps_rid(struct vfio_conf *c)
{
	u32 rid_hwpt = conf_new_pasid_hwpt(c);
	u32 hwpt = conf_new_pasid_hwpt(c);

	conf_pasid_bind(c);
	conf_attach_pt(c, rid_hwpt);
	conf_pasid_attach(c, VFIO_CONF_PASID, hwpt);
	conf_pasid_attach(c, VFIO_CONF_PASID_2, hwpt);

	conf_pasid_detach_dev(c->vdev, VFIO_CONF_PASID);
	KUNIT_EXPECT_FALSE(c->test, conf_pasid_attached(c, VFIO_CONF_PASID));
	KUNIT_EXPECT_TRUE(c->test, conf_pasid_attached(c, VFIO_CONF_PASID_2));
	KUNIT_EXPECT_TRUE(c->test, conf_attached(c));
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, rid_hwpt), -EBUSY);
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, hwpt), -EBUSY);

	conf_pasid_detach_dev(c->vdev, VFIO_CONF_PASID_2);
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, hwpt), 0);
	KUNIT_EXPECT_TRUE(c->test, conf_attached(c));
	conf_detach(c);
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, rid_hwpt), 0);
}

/*
 * A PASID detach of a PASID that is not attached, also twice, does nothing
 * and does not WARN
 */
static void vfio_conf_pasid_detach_when_detached(struct vfio_conf *c)
{
	u32 rid_hwpt = conf_new_pasid_hwpt(c);

	conf_pasid_bind(c);
	conf_attach_pt(c, rid_hwpt);
	conf_pasid_detach_dev(c->vdev, VFIO_CONF_PASID);
	conf_pasid_detach_dev(c->vdev, VFIO_CONF_PASID);
	KUNIT_EXPECT_FALSE(c->test, conf_pasid_attached(c, VFIO_CONF_PASID));
	KUNIT_EXPECT_TRUE(c->test, conf_attached(c));
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, rid_hwpt), -EBUSY);

	conf_detach(c);
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, rid_hwpt), 0);
}

/*
 * Unbind with PASIDs and the RID attached detaches them all: iommufd holds
 * none of their tables and nothing of the device afterwards
 */
static void vfio_conf_unbind_detaches_pasids(struct vfio_conf *c)
{
	u32 rid_hwpt = conf_new_pasid_hwpt(c);
	u32 hwpt_a = conf_new_pasid_hwpt(c);
	u32 hwpt_b = conf_new_pasid_hwpt(c);

	conf_pasid_bind(c);
	conf_attach_pt(c, rid_hwpt);
	conf_pasid_attach(c, VFIO_CONF_PASID, hwpt_a);
	conf_pasid_attach(c, VFIO_CONF_PASID_2, hwpt_b);

	conf_unbind(c);
	KUNIT_EXPECT_FALSE(c->test, conf_attached(c));
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, c->dev_id), -ENOENT);
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, hwpt_a), 0);
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, hwpt_b), 0);
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, rid_hwpt), 0);
}

/*
 * A PASID attach that fails leaves the PASID and the RID as they were: to
 * an unknown id (-ENOENT), and to a PASID table beside a RID on a table not
 * allocated for PASIDs (-EINVAL). Then the PASID attaches.
 */
static void vfio_conf_pasid_failed_attach_keeps_state(struct vfio_conf *c)
{
	u32 hwpt = conf_new_pasid_hwpt(c);
	u32 rid_hwpt = conf_new_pasid_hwpt(c);
	u32 pt_id = VFIO_CONF_NO_ID;
	u32 rid_auto;

	conf_pasid_bind(c);
	rid_auto = conf_attach_ioas(c);
	KUNIT_EXPECT_EQ(c->test,
			conf_pasid_attach_dev(c->vdev, VFIO_CONF_PASID, &pt_id),
			-ENOENT);
	KUNIT_EXPECT_EQ(c->test, pt_id, VFIO_CONF_NO_ID);
	pt_id = hwpt;
	KUNIT_EXPECT_EQ(c->test,
			conf_pasid_attach_dev(c->vdev, VFIO_CONF_PASID, &pt_id),
			-EINVAL);
	KUNIT_EXPECT_EQ(c->test, pt_id, hwpt);
	KUNIT_EXPECT_FALSE(c->test, conf_pasid_attached(c, VFIO_CONF_PASID));
	KUNIT_EXPECT_TRUE(c->test, conf_attached(c));
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, rid_auto), -EBUSY);
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, hwpt), 0);

	hwpt = conf_new_pasid_hwpt(c);
	conf_attach_pt(c, rid_hwpt);
	conf_pasid_attach(c, VFIO_CONF_PASID, hwpt);
	conf_unbind(c);
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, hwpt), 0);
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, rid_hwpt), 0);
}

/* Rounds of attach, replace and detach each thread of a race runs */
#define VFIO_CONF_RACE_ROUNDS	40

/**
 * struct vfio_conf_fault - The first call of a racing thread that went wrong
 * @what: The call, or NULL
 * @ret: What it returned, or the id it wrote back
 */
struct vfio_conf_fault {
	const char *what;
	long ret;
};

/* Record in @f the first call that returned @ret where @want was due */
static bool race_check(struct vfio_conf_fault *f, const char *what,
		       long ret, long want)
{
	if (ret == want)
		return true;
	if (!f->what) {
		f->what = what;
		f->ret = ret;
	}
	return false;
}

/* Threads of vfio_conf_pasid_race(): one per PASID, one for the RID */
#define VFIO_CONF_PASID_RACERS	3

/**
 * struct vfio_conf_pasid_racer - A thread of vfio_conf_pasid_race()
 * @c: The case
 * @pasid: The PASID it attaches, or IOMMU_NO_PASID for the RID
 * @hwpt_a: The table it attaches to
 * @hwpt_b: The table it replaces onto
 * @fault: The first call that went wrong
 * @done: The thread has finished
 */
struct vfio_conf_pasid_racer {
	struct vfio_conf *c;
	u32 pasid;
	u32 hwpt_a;
	u32 hwpt_b;
	struct vfio_conf_fault fault;
	struct completion done;
};

static bool pasid_racer_attach(struct vfio_conf_pasid_racer *r,
			       const char *what, u32 hwpt)
{
	struct vfio_device *vdev = r->c->vdev;
	u32 pt_id = hwpt;
	int ret;

	if (r->pasid == IOMMU_NO_PASID)
		ret = conf_attach_dev(vdev, &pt_id);
	else
		ret = conf_pasid_attach_dev(vdev, r->pasid, &pt_id);
	return race_check(&r->fault, what, ret, 0) &&
	       race_check(&r->fault, what, pt_id, hwpt);
}

static void pasid_racer_detach(struct vfio_conf_pasid_racer *r)
{
	if (r->pasid == IOMMU_NO_PASID)
		conf_detach_dev(r->c->vdev);
	else
		conf_pasid_detach_dev(r->c->vdev, r->pasid);
}

/* Rounds of attach to A, replace onto B and detach; every call succeeds */
static int vfio_conf_pasid_racer_fn(void *data)
{
	struct vfio_conf_pasid_racer *r = data;
	unsigned int round;

	for (round = 0; round < VFIO_CONF_RACE_ROUNDS && !r->fault.what;
	     round++) {
		if (!pasid_racer_attach(r, "attach", r->hwpt_a) ||
		    !pasid_racer_attach(r, "replace", r->hwpt_b))
			break;
		pasid_racer_detach(r);
	}
	if (r->fault.what)
		pasid_racer_detach(r);
	kthread_complete_and_exit(&r->done, 0);
}

/*
 * On one device, threads attach, replace and detach PASIDs 1 to 3 and the
 * RID at once, on the same two PASID-capable HWPTs. Every call succeeds,
 * and afterwards nothing is attached and both tables can be destroyed.
 */
static void vfio_conf_pasid_race(struct vfio_conf *c)
{
	struct vfio_conf_pasid_racer *racers;
	u32 hwpt_a = conf_new_pasid_hwpt(c);
	u32 hwpt_b = conf_new_pasid_hwpt(c);
	unsigned int i, started;

	racers = kunit_kcalloc(c->test, VFIO_CONF_PASID_RACERS + 1,
			       sizeof(*racers), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(c->test, racers);
	conf_pasid_bind(c);
	for (i = 0; i <= VFIO_CONF_PASID_RACERS; i++) {
		racers[i].c = c;
		racers[i].pasid = i;	/* 0 is IOMMU_NO_PASID, the RID */
		racers[i].hwpt_a = hwpt_a;
		racers[i].hwpt_b = hwpt_b;
		init_completion(&racers[i].done);
	}
	for (started = 0; started <= VFIO_CONF_PASID_RACERS; started++) {
		struct task_struct *task;

		task = kthread_run(vfio_conf_pasid_racer_fn, &racers[started],
				   "vfio_kunit_pasid/%u", started);
		if (IS_ERR(task)) {
			KUNIT_FAIL(c->test, "kthread_run: %pe", task);
			break;
		}
	}
	for (i = 0; i < started; i++)
		wait_for_completion(&racers[i].done);
	if (started <= VFIO_CONF_PASID_RACERS)
		return;

	for (i = 0; i <= VFIO_CONF_PASID_RACERS; i++) {
		struct vfio_conf_fault *f = &racers[i].fault;

		KUNIT_EXPECT_NULL_MSG(c->test, f->what, "PASID %u: %s: %ld", i,
				      f->what, f->ret);
		if (i)
			KUNIT_EXPECT_FALSE(c->test, conf_pasid_attached(c, i));
	}
	KUNIT_EXPECT_FALSE(c->test, conf_attached(c));
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, hwpt_a), 0);
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, hwpt_b), 0);
}

/* Devices that race in vfio_conf_race(), the case's own one included */
#define VFIO_CONF_RACE_DEVICES	3

/**
 * struct vfio_conf_racer - A thread of vfio_conf_race()
 * @c: The case
 * @vdev: A device of the driver under test, bound to @c->ictx; NULL for
 *        the thread that makes and destroys objects instead
 * @dev_id: Its object id
 * @bound: bind_iommufd succeeded and unbind_iommufd was not called yet
 * @made: @vdev was made for the race, not the case's own device
 * @ioas_b: The IOAS the devices replace onto
 * @hwpt: An HWPT on the case's IOAS, which physical devices attach to
 * @auto_hwpt: Physical: the last automatic HWPT it attached to
 * @fault: The first call that went wrong
 * @done: The thread has finished
 */
struct vfio_conf_racer {
	struct vfio_conf *c;
	struct vfio_device *vdev;
	u32 dev_id;
	bool bound;
	bool made;
	u32 ioas_b;
	u32 hwpt;
	u32 auto_hwpt;
	struct vfio_conf_fault fault;
	struct completion done;
};

/*
 * Attach @r's device to @id: whether it did and wrote back @want, or for
 * VFIO_CONF_NO_ID, the id of an automatic HWPT
 */
static bool racer_attach(struct vfio_conf_racer *r, const char *what,
			 u32 id, u32 want)
{
	struct vfio_conf_fault *f = &r->fault;
	u32 pt_id = id;

	if (!race_check(f, what, conf_attach_dev(r->vdev, &pt_id), 0))
		return false;
	if (want != VFIO_CONF_NO_ID)
		return race_check(f, what, pt_id, want);
	/* A physical device on an IOAS: an automatic HWPT's id comes back */
	r->auto_hwpt = pt_id;
	return pt_id != id ||
	       race_check(f, "attach to an IOAS wrote back its id", pt_id,
			  VFIO_CONF_NO_ID);
}

/*
 * A device's rounds: attach to the case's IOAS, replace onto IOAS B, for a
 * physical device replace onto the HWPT, then detach. Every call succeeds.
 */
static void racer_device(struct vfio_conf_racer *r)
{
	struct vfio_conf_fault *f = &r->fault;
	bool physical = is_physical(r->c);
	unsigned int round;

	for (round = 0; round < VFIO_CONF_RACE_ROUNDS && !f->what; round++) {
		if (!racer_attach(r, "attach to the IOAS", r->c->ioas_id,
				  physical ? VFIO_CONF_NO_ID : r->c->ioas_id) ||
		    !racer_attach(r, "replace onto IOAS B", r->ioas_b,
				  physical ? VFIO_CONF_NO_ID : r->ioas_b) ||
		    (physical && !racer_attach(r, "replace onto the HWPT",
					       r->hwpt, r->hwpt)))
			break;
		conf_detach_dev(r->vdev);
		race_check(f, "detach", r->vdev->iommufd_attached, false);
		race_check(f, "destroying a bound device",
			   iommufd_test_destroy(r->c->ictx, r->dev_id), -EBUSY);
	}
	if (f->what)
		conf_detach_dev(r->vdev);
}

/*
 * Meanwhile, through iommufd's KUnit hooks: IOASes and HWPTs made and
 * destroyed in the same context (nothing else knows their ids, so each
 * destroy succeeds), and contexts of their own made and dropped.
 */
static void racer_objects(struct vfio_conf_racer *r)
{
	struct vfio_conf_fault *f = &r->fault;
	struct vfio_conf *c = r->c;
	unsigned int round;
	u32 ioas, hwpt;

	for (round = 0; round < VFIO_CONF_RACE_ROUNDS && !f->what; round++) {
		struct iommufd_ctx *ictx = iommufd_test_ctx_create();

		if (IS_ERR(ictx)) {
			race_check(f, "iommufd_test_ctx_create", PTR_ERR(ictx), 0);
			break;
		}
		if (race_check(f, "IOAS alloc in a context of its own",
			       iommufd_test_ioas_alloc(ictx, &ioas), 0))
			race_check(f, "its destroy",
				   iommufd_test_destroy(ictx, ioas), 0);
		iommufd_test_ctx_destroy(ictx);

		if (!race_check(f, "IOAS alloc",
				iommufd_test_ioas_alloc(c->ictx, &ioas), 0))
			break;
		if (race_check(f, "HWPT alloc",
			       iommufd_test_hwpt_alloc(c->ictx, c->hwpt_dev_id,
						       ioas, 0, &hwpt), 0))
			race_check(f, "HWPT destroy",
				   iommufd_test_destroy(c->ictx, hwpt), 0);
		race_check(f, "IOAS destroy", iommufd_test_destroy(c->ictx, ioas),
			   0);
	}
}

static int vfio_conf_racer_fn(void *data)
{
	struct vfio_conf_racer *r = data;

	if (r->vdev)
		racer_device(r);
	else
		racer_objects(r);
	kthread_complete_and_exit(&r->done, 0);
}

static void vfio_conf_racer_action(void *data)
{
	struct vfio_conf_racer *r = data;

	if (r->bound)
		conf_unbind_dev(r->vdev);
	if (r->made)
		r->c->drv->destroy(r->vdev);
}

/*
 * Several devices of the driver under test attach, replace and detach at
 * once, each on its own thread, on the same IOASes (and, for physical
 * devices, the same automatic and user-made HWPTs), while another thread
 * makes and destroys objects in the same context. Every call succeeds,
 * an emulated device gets its two dma_unmap calls a round, and afterwards
 * no automatic HWPT is left and every table can be destroyed.
 */
static void vfio_conf_race(struct vfio_conf *c)
{
	struct vfio_conf_racer *racers;
	u32 ioas_b = conf_new_ioas(c);
	u32 hwpt = conf_new_hwpt(c, c->ioas_id);
	unsigned int i, started;
	int ret;

	racers = kunit_kcalloc(c->test, VFIO_CONF_RACE_DEVICES + 1,
			       sizeof(*racers), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(c->test, racers);
	conf_bind(c);
	for (i = 0; i <= VFIO_CONF_RACE_DEVICES; i++) {
		struct vfio_conf_racer *r = &racers[i];

		r->c = c;
		r->ioas_b = ioas_b;
		r->hwpt = hwpt;
		init_completion(&r->done);
		if (i == VFIO_CONF_RACE_DEVICES)
			break;
		if (!i) {
			r->vdev = c->vdev;
			r->dev_id = c->dev_id;
			continue;
		}
		r->vdev = c->drv->create(NULL);
		KUNIT_ASSERT_NOT_ERR_OR_NULL(c->test, r->vdev);
		r->made = true;
		ret = kunit_add_action_or_reset(c->test, vfio_conf_racer_action,
						r);
		KUNIT_ASSERT_EQ(c->test, ret, 0);
		ret = conf_bind_dev(r->vdev, c->ictx, &r->dev_id);
		KUNIT_ASSERT_EQ(c->test, ret, 0);
		r->bound = true;
	}

	for (started = 0; started <= VFIO_CONF_RACE_DEVICES; started++) {
		struct task_struct *task;

		task = kthread_run(vfio_conf_racer_fn, &racers[started],
				   "vfio_kunit_race/%u", started);
		if (IS_ERR(task)) {
			KUNIT_FAIL(c->test, "kthread_run: %pe", task);
			break;
		}
	}
	for (i = 0; i < started; i++)
		wait_for_completion(&racers[i].done);
	if (started <= VFIO_CONF_RACE_DEVICES)
		return;

	for (i = 0; i <= VFIO_CONF_RACE_DEVICES; i++) {
		struct vfio_conf_racer *r = &racers[i];

		KUNIT_EXPECT_NULL_MSG(c->test, r->fault.what,
				      "thread %u: %s: %ld", i, r->fault.what,
				      r->fault.ret);
		if (!r->vdev)
			continue;
		KUNIT_EXPECT_FALSE(c->test, r->vdev->iommufd_attached);
		if (!is_physical(c))
			KUNIT_EXPECT_EQ(c->test, c->drv->unmaps(r->vdev, NULL),
					2 * VFIO_CONF_RACE_ROUNDS);
		else if (r->auto_hwpt)
			KUNIT_EXPECT_EQ(c->test, conf_destroy(c, r->auto_hwpt),
					-ENOENT);
	}
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, hwpt), 0);
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, ioas_b), 0);
	for (i = 1; i < VFIO_CONF_RACE_DEVICES; i++)
		kunit_release_action(c->test, vfio_conf_racer_action,
				     &racers[i]);
	for (i = 1; i < VFIO_CONF_RACE_DEVICES; i++)
		KUNIT_EXPECT_EQ(c->test, conf_destroy(c, racers[i].dev_id),
				-ENOENT);
}

/* The drivers under test are the parameter of every case */
static const void *vfio_conf_gen_params(struct kunit *test, const void *prev,
					char *desc)
{
	const struct vfio_conf_driver *drv = prev;

	drv = drv ? drv + 1 : vfio_conf_drivers;
	if (drv >= vfio_conf_drivers + ARRAY_SIZE(vfio_conf_drivers))
		return NULL;
	strscpy(desc, drv->name, KUNIT_PARAM_DESC_SIZE);
	return drv;
}

static void vfio_conf_unbind_action(void *data)
{
	struct vfio_conf *c = data;

	if (c->bound)
		conf_unbind(c);
}

static void vfio_conf_destroy_action(void *data)
{
	struct vfio_conf *c = data;

	c->drv->destroy(c->vdev);
}

static void vfio_conf_hwpt_dev_action(void *data)
{
	struct vfio_conf *c = data;

	if (c->hwpt_idev)
		iommufd_device_unbind(c->hwpt_idev);
	if (c->hwpt_dev)
		iommufd_test_mock_dev_destroy(c->hwpt_dev);
}

KUNIT_DEFINE_ACTION_WRAPPER(vfio_conf_ctx_destroy, iommufd_test_ctx_destroy,
			    struct iommufd_ctx *);

/*
 * After each case: unbinding leaves nothing of the device in iommufd, an
 * automatic HWPT goes with its attachment, and the IOAS the case began with
 * is free to be destroyed.
 */
static void vfio_conf_check_released(struct vfio_conf *c)
{
	bool destroyed = c->ioas_destroyed;

	if (c->bound)
		conf_unbind(c);
	KUNIT_EXPECT_FALSE(c->test, conf_attached(c));
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, c->dev_id), -ENOENT);
	if (c->auto_hwpt)
		KUNIT_EXPECT_EQ(c->test, conf_destroy(c, c->auto_hwpt),
				-ENOENT);
	/* Cases that destroyed the IOAS themselves leave an unknown id */
	KUNIT_EXPECT_EQ(c->test, conf_destroy(c, c->ioas_id),
			destroyed ? -ENOENT : 0);
}

/*
 * Run @run on a new device of the driver under test, bound to nothing, with
 * an IOAS in a new iommufd context; skip it if it is not for @kinds of
 * device. Then check what it left.
 */
static void vfio_conf_run(struct kunit *test, unsigned int kinds,
			  void (*run)(struct vfio_conf *c))
{
	const struct vfio_conf_driver *drv = test->param_value;
	struct vfio_conf *c;
	int ret;

	if (drv->skip)
		kunit_skip(test, "%s", drv->skip);
	if (!(drv->kind & kinds))
		kunit_skip(test, "not for %s devices",
			   drv->kind == VFIO_CONF_PHYSICAL ? "physical" :
			   "emulated");

	c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, c);
	c->test = test;
	c->drv = drv;

	c->ictx = iommufd_test_ctx_create();
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, c->ictx);
	ret = kunit_add_action_or_reset(test, vfio_conf_ctx_destroy, c->ictx);
	KUNIT_ASSERT_EQ(test, ret, 0);
	ret = kunit_add_action_or_reset(test, vfio_conf_hwpt_dev_action, c);
	KUNIT_ASSERT_EQ(test, ret, 0);

	c->vdev = c->drv->create(NULL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, c->vdev);
	ret = kunit_add_action_or_reset(test, vfio_conf_destroy_action, c);
	KUNIT_ASSERT_EQ(test, ret, 0);
	ret = kunit_add_action_or_reset(test, vfio_conf_unbind_action, c);
	KUNIT_ASSERT_EQ(test, ret, 0);

	c->ioas_id = conf_new_ioas(c);

	run(c);
	vfio_conf_check_released(c);
}

/* The cases, each on every driver under test */

static void attach_detach_assert_dev_set_lock(struct kunit *test)
{
	vfio_conf_run(test, VFIO_CONF_ANY, vfio_conf_lock_asserted);
}

static void attach_unbound_warns(struct kunit *test)
{
	vfio_conf_run(test, VFIO_CONF_PHYSICAL, vfio_conf_attach_unbound);
}

static void detach_unbound_warns(struct kunit *test)
{
	vfio_conf_run(test, VFIO_CONF_PHYSICAL, vfio_conf_detach_unbound);
}

static void attach_ioas_writes_back_pt_id(struct kunit *test)
{
	vfio_conf_run(test, VFIO_CONF_ANY, vfio_conf_attach_ioas);
}

static void attach_hwpt_keeps_its_id(struct kunit *test)
{
	vfio_conf_run(test, VFIO_CONF_PHYSICAL, vfio_conf_attach_hwpt);
}

static void attach_unknown_id_fails(struct kunit *test)
{
	vfio_conf_run(test, VFIO_CONF_ANY, vfio_conf_attach_unknown);
}

static void attach_device_id_fails(struct kunit *test)
{
	vfio_conf_run(test, VFIO_CONF_PHYSICAL, vfio_conf_attach_wrong_type);
}

static void emulated_attach_hwpt_fails(struct kunit *test)
{
	vfio_conf_run(test, VFIO_CONF_EMULATED, vfio_conf_emulated_attach_hwpt);
}

static void attach_when_attached_replaces(struct kunit *test)
{
	vfio_conf_run(test, VFIO_CONF_ANY, vfio_conf_replace_other);
}

static void replace_with_same_table_is_noop(struct kunit *test)
{
	vfio_conf_run(test, VFIO_CONF_ANY, vfio_conf_replace_same);
}

static void failed_replace_keeps_table(struct kunit *test)
{
	vfio_conf_run(test, VFIO_CONF_ANY, vfio_conf_replace_fails);
}

static void detach_when_detached_is_noop(struct kunit *test)
{
	vfio_conf_run(test, VFIO_CONF_ANY, vfio_conf_detach_idempotent);
}

static void detach_frees_auto_hwpt(struct kunit *test)
{
	vfio_conf_run(test, VFIO_CONF_ANY, vfio_conf_detach_reattach);
}

static void attached_objects_are_busy(struct kunit *test)
{
	vfio_conf_run(test, VFIO_CONF_ANY, vfio_conf_busy_while_attached);
}

static void unbind_attached_detaches(struct kunit *test)
{
	vfio_conf_run(test, VFIO_CONF_ANY, vfio_conf_unbind_attached);
}

static void emulated_bind_unmaps_nothing(struct kunit *test)
{
	vfio_conf_run(test, VFIO_CONF_EMULATED, vfio_conf_emulated_bind);
}

static void emulated_detach_unmaps_all(struct kunit *test)
{
	vfio_conf_run(test, VFIO_CONF_EMULATED, vfio_conf_emulated_detach_unmaps);
}

static void emulated_unbind_unmaps_all(struct kunit *test)
{
	vfio_conf_run(test, VFIO_CONF_EMULATED, vfio_conf_emulated_unbind_unmaps);
}

static void emulated_replace_unmaps_old_ioas(struct kunit *test)
{
	vfio_conf_run(test, VFIO_CONF_EMULATED, vfio_conf_emulated_replace_unmaps);
}

static void group_peers_share_hwpt(struct kunit *test)
{
	vfio_conf_run(test, VFIO_CONF_PHYSICAL, vfio_conf_group_shares_hwpt);
}

static void devices_race_attach_replace_detach(struct kunit *test)
{
	vfio_conf_run(test, VFIO_CONF_ANY, vfio_conf_race);
}

static void pasid_attach_keeps_rid(struct kunit *test)
{
	vfio_conf_run(test, VFIO_CONF_PHYSICAL, vfio_conf_pasid_attach_keeps_rid);
}

static void pasid_attach_ioas_fails(struct kunit *test)
{
	vfio_conf_run(test, VFIO_CONF_PHYSICAL,
		      vfio_conf_pasid_attach_ioas_fails);
}

static void pasid_attach_when_attached_replaces(struct kunit *test)
{
	vfio_conf_run(test, VFIO_CONF_PHYSICAL, vfio_conf_pasid_replace);
}

static void pasid_failed_replace_keeps_table(struct kunit *test)
{
	vfio_conf_run(test, VFIO_CONF_PHYSICAL,
		      vfio_conf_pasid_failed_replace_keeps_table);
}

static void pasid_detach_keeps_rid(struct kunit *test)
{
	vfio_conf_run(test, VFIO_CONF_PHYSICAL, vfio_conf_pasid_detach_keeps_rid);
}

static void pasid_detach_when_detached_is_noop(struct kunit *test)
{
	vfio_conf_run(test, VFIO_CONF_PHYSICAL,
		      vfio_conf_pasid_detach_when_detached);
}

static void unbind_detaches_pasids(struct kunit *test)
{
	vfio_conf_run(test, VFIO_CONF_PHYSICAL, vfio_conf_unbind_detaches_pasids);
}

static void pasid_failed_attach_keeps_state(struct kunit *test)
{
	vfio_conf_run(test, VFIO_CONF_PHYSICAL,
		      vfio_conf_pasid_failed_attach_keeps_state);
}

static void pasids_race_attach_replace_detach(struct kunit *test)
{
	vfio_conf_run(test, VFIO_CONF_PHYSICAL, vfio_conf_pasid_race);
}

static struct kunit_case vfio_iommufd_test_cases[] = {
	KUNIT_CASE_PARAM(attach_detach_assert_dev_set_lock, vfio_conf_gen_params),
	KUNIT_CASE_PARAM(attach_unbound_warns, vfio_conf_gen_params),
	KUNIT_CASE_PARAM(detach_unbound_warns, vfio_conf_gen_params),
	KUNIT_CASE_PARAM(attach_ioas_writes_back_pt_id, vfio_conf_gen_params),
	KUNIT_CASE_PARAM(attach_hwpt_keeps_its_id, vfio_conf_gen_params),
	KUNIT_CASE_PARAM(attach_unknown_id_fails, vfio_conf_gen_params),
	KUNIT_CASE_PARAM(attach_device_id_fails, vfio_conf_gen_params),
	KUNIT_CASE_PARAM(emulated_attach_hwpt_fails, vfio_conf_gen_params),
	KUNIT_CASE_PARAM(attach_when_attached_replaces, vfio_conf_gen_params),
	KUNIT_CASE_PARAM(replace_with_same_table_is_noop, vfio_conf_gen_params),
	KUNIT_CASE_PARAM(failed_replace_keeps_table, vfio_conf_gen_params),
	KUNIT_CASE_PARAM(detach_when_detached_is_noop, vfio_conf_gen_params),
	KUNIT_CASE_PARAM(detach_frees_auto_hwpt, vfio_conf_gen_params),
	KUNIT_CASE_PARAM(attached_objects_are_busy, vfio_conf_gen_params),
	KUNIT_CASE_PARAM(unbind_attached_detaches, vfio_conf_gen_params),
	KUNIT_CASE_PARAM(emulated_bind_unmaps_nothing, vfio_conf_gen_params),
	KUNIT_CASE_PARAM(emulated_detach_unmaps_all, vfio_conf_gen_params),
	KUNIT_CASE_PARAM(emulated_unbind_unmaps_all, vfio_conf_gen_params),
	KUNIT_CASE_PARAM(emulated_replace_unmaps_old_ioas, vfio_conf_gen_params),
	KUNIT_CASE_PARAM(group_peers_share_hwpt, vfio_conf_gen_params),
	KUNIT_CASE_PARAM(devices_race_attach_replace_detach,
			 vfio_conf_gen_params),
	KUNIT_CASE_PARAM(pasid_attach_keeps_rid, vfio_conf_gen_params),
	KUNIT_CASE_PARAM(pasid_attach_ioas_fails, vfio_conf_gen_params),
	KUNIT_CASE_PARAM(pasid_attach_when_attached_replaces,
			 vfio_conf_gen_params),
	KUNIT_CASE_PARAM(pasid_failed_replace_keeps_table, vfio_conf_gen_params),
	KUNIT_CASE_PARAM(pasid_detach_keeps_rid, vfio_conf_gen_params),
	KUNIT_CASE_PARAM(pasid_detach_when_detached_is_noop,
			 vfio_conf_gen_params),
	KUNIT_CASE_PARAM(unbind_detaches_pasids, vfio_conf_gen_params),
	KUNIT_CASE_PARAM(pasid_failed_attach_keeps_state, vfio_conf_gen_params),
	KUNIT_CASE_PARAM(pasids_race_attach_replace_detach,
			 vfio_conf_gen_params),
	{}
};

static struct kunit_suite vfio_iommufd_test_suite = {
	.name = "vfio_iommufd",
	.test_cases = vfio_iommufd_test_cases,
};

kunit_test_suite(vfio_iommufd_test_suite);

MODULE_IMPORT_NS("IOMMUFD");
MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING");
MODULE_DESCRIPTION("KUnit conformance tests for the VFIO iommufd callbacks");
MODULE_LICENSE("GPL");
