// SPDX-License-Identifier: GPL-2.0-only
/*
 * What the iommufd callbacks of the C and the Rust physical VFIO samples
 * cost, measured in one kernel run.
 *
 * Not a test: it does nothing unless vfio_iommufd_bench.cycles=N is given
 * (on the kernel command line, or when loading the module). Then it times N
 * cycles of attach to an IOAS, replace with another IOAS and detach through
 * each sample's ops, called as the VFIO core calls them, with dev_set->lock
 * held, on a real iommufd context and the mock IOMMU. Rounds alternate
 * between the drivers; the median round of each is printed in nanoseconds
 * per cycle, with the Rust/C ratio.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/iommufd_kunit.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/sort.h>
#include <linux/vfio.h>
#include <linux/workqueue.h>

#include "vfio_sample.h"

static unsigned int cycles;
module_param(cycles, uint, 0444);
MODULE_PARM_DESC(cycles, "attach/replace/detach cycles per round (0: do not run)");

static unsigned int rounds = 9;
module_param(rounds, uint, 0444);
MODULE_PARM_DESC(rounds, "rounds per driver, the median is reported");

#define VFIO_BENCH_MAX_ROUNDS 64

struct vfio_bench_driver {
	const char *name;
	struct vfio_device *(*create)(struct vfio_device *group_peer);
	void (*destroy)(struct vfio_device *vdev);
	u64 ns[VFIO_BENCH_MAX_ROUNDS];
};

static struct vfio_bench_driver vfio_bench_drivers[] = {
	{ "c-physical", vfio_sample_phys_create, vfio_sample_phys_destroy },
#if IS_BUILTIN(CONFIG_SAMPLE_RUST_VFIO) && IS_BUILTIN(CONFIG_VFIO_IOMMUFD_BENCH)
	{ "rust-physical", rust_vfio_sample_phys_create,
	  rust_vfio_sample_phys_destroy },
#endif
};

/* Time one round of @cycles cycles on a new device of @drv */
static int vfio_bench_round(struct vfio_bench_driver *drv,
			    struct iommufd_ctx *ictx, const u32 *ioas, u64 *ns)
{
	struct vfio_device *vdev;
	unsigned int i;
	u32 dev_id, pt_id;
	u64 start;
	int ret;

	vdev = drv->create(NULL);
	if (IS_ERR(vdev))
		return PTR_ERR(vdev);

	mutex_lock(&vdev->dev_set->lock);
	ret = vdev->ops->bind_iommufd(vdev, ictx, &dev_id);
	if (ret)
		goto out_unlock;

	start = ktime_get_ns();
	for (i = 0; i < cycles && !ret; i++) {
		pt_id = ioas[0];
		ret = vdev->ops->attach_ioas(vdev, &pt_id);
		pt_id = ioas[1];
		ret = ret ?: vdev->ops->attach_ioas(vdev, &pt_id);
		vdev->ops->detach_ioas(vdev);
	}
	*ns = ktime_get_ns() - start;

	vdev->ops->unbind_iommufd(vdev);
out_unlock:
	mutex_unlock(&vdev->dev_set->lock);
	drv->destroy(vdev);
	return ret;
}

static int vfio_bench_cmp(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

static u64 vfio_bench_median_per_cycle(struct vfio_bench_driver *drv)
{
	sort(drv->ns, rounds, sizeof(drv->ns[0]), vfio_bench_cmp, NULL);
	return div_u64(drv->ns[rounds / 2], cycles);
}

static int vfio_bench_run(void)
{
	struct iommufd_ctx *ictx;
	unsigned int r, d;
	u64 per_cycle[ARRAY_SIZE(vfio_bench_drivers)];
	u32 ioas[2];
	int ret;

	ictx = iommufd_test_ctx_create();
	if (IS_ERR(ictx))
		return PTR_ERR(ictx);
	ret = iommufd_test_ioas_alloc(ictx, &ioas[0]) ?:
	      iommufd_test_ioas_alloc(ictx, &ioas[1]);
	if (ret)
		goto out_ctx;

	for (r = 0; r < rounds && !ret; r++)
		for (d = 0; d < ARRAY_SIZE(vfio_bench_drivers) && !ret; d++)
			ret = vfio_bench_round(&vfio_bench_drivers[d], ictx,
					       ioas, &vfio_bench_drivers[d].ns[r]);
	if (ret)
		goto out_ctx;

	for (d = 0; d < ARRAY_SIZE(vfio_bench_drivers); d++) {
		per_cycle[d] = vfio_bench_median_per_cycle(&vfio_bench_drivers[d]);
		pr_info("%s: %llu ns per attach/replace/detach cycle (median of %u rounds of %u)\n",
			vfio_bench_drivers[d].name, per_cycle[d], rounds,
			cycles);
	}
	if (ARRAY_SIZE(vfio_bench_drivers) > 1 && per_cycle[0]) {
		u64 milli = div64_u64(per_cycle[1] * 1000, per_cycle[0]);

		pr_info("ratio %s/%s: %llu.%03llu\n", vfio_bench_drivers[1].name,
			vfio_bench_drivers[0].name, div_u64(milli, 1000),
			milli % 1000);
	}
out_ctx:
	iommufd_test_ctx_destroy(ictx);
	return ret;
}

struct vfio_bench_work {
	struct work_struct work;
	int ret;
};

static void vfio_bench_work(struct work_struct *work)
{
	struct vfio_bench_work *w = container_of(work, struct vfio_bench_work,
						 work);

	w->ret = vfio_bench_run();
}

static int __init vfio_iommufd_bench_init(void)
{
	struct vfio_bench_work work = {};

	if (!cycles)
		return 0;
	if (!rounds || rounds > VFIO_BENCH_MAX_ROUNDS) {
		pr_err("rounds must be 1 to %d\n", VFIO_BENCH_MAX_ROUNDS);
		return -EINVAL;
	}
	/*
	 * On a work item, a kernel thread: iommufd_test_ctx_destroy() needs
	 * one to release the context before it returns.
	 */
	INIT_WORK_ONSTACK(&work.work, vfio_bench_work);
	schedule_work(&work.work);
	flush_work(&work.work);
	destroy_work_on_stack(&work.work);
	if (work.ret)
		pr_err("failed: %d\n", work.ret);
	return 0;
}
late_initcall(vfio_iommufd_bench_init);

MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING");
MODULE_DESCRIPTION("Cost of the iommufd callbacks of the VFIO samples");
MODULE_LICENSE("GPL");
