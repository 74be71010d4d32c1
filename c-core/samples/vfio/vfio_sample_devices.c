// SPDX-License-Identifier: GPL-2.0-only
/*
 * Devices of the VFIO sample drivers, for user space.
 *
 * Given vfio_sample_devices.count=N (on the kernel command line, or when
 * loading the module), this creates N devices of each VFIO sample driver:
 * the physical and the emulated sample. User space finds each as
 * /dev/vfio/devices/vfioM;
 * the driver of /sys/class/vfio-dev/vfioM/device names the sample. The
 * selftest tools/testing/selftests/vfio/vfio_cdev_uapi_test runs on them.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/err.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/vfio.h>

#include "vfio_sample.h"

/* Enough for any test; more would only use up VFIO device minors */
#define VFIO_SAMPLE_DEVICES_MAX	16

static unsigned int count;
module_param(count, uint, 0444);
MODULE_PARM_DESC(count, "devices to create per sample driver (default 0, at most 16)");

struct vfio_sample_devices_driver {
	const char *name;
	struct vfio_device *(*create)(struct vfio_device *group_peer);
	void (*destroy)(struct vfio_device *vdev);
};

static const struct vfio_sample_devices_driver vfio_sample_drivers[] = {
	{ "c-physical", vfio_sample_phys_create, vfio_sample_phys_destroy },
	{ "c-emulated", vfio_sample_emul_create, vfio_sample_emul_destroy },
};

struct vfio_sample_device {
	const struct vfio_sample_devices_driver *drv;
	struct vfio_device *vdev;
};

static struct vfio_sample_device *vfio_sample_devices;
static unsigned int vfio_sample_nr_devices;

static void vfio_sample_devices_destroy(void)
{
	struct vfio_sample_device *d;

	while (vfio_sample_nr_devices) {
		d = &vfio_sample_devices[--vfio_sample_nr_devices];
		d->drv->destroy(d->vdev);
	}
	kfree(vfio_sample_devices);
	vfio_sample_devices = NULL;
}

static int __init vfio_sample_devices_init(void)
{
	const struct vfio_sample_devices_driver *drv;
	struct vfio_device *vdev;
	unsigned int n;

	if (!count)
		return 0;
	if (count > VFIO_SAMPLE_DEVICES_MAX) {
		pr_err("count=%u is above %u\n", count, VFIO_SAMPLE_DEVICES_MAX);
		return -EINVAL;
	}

	vfio_sample_devices = kcalloc(count, sizeof(*vfio_sample_devices) *
				      ARRAY_SIZE(vfio_sample_drivers),
				      GFP_KERNEL);
	if (!vfio_sample_devices)
		return -ENOMEM;

	for (n = 0; n < count; n++) {
		for (drv = vfio_sample_drivers;
		     drv < vfio_sample_drivers + ARRAY_SIZE(vfio_sample_drivers);
		     drv++) {
			vdev = drv->create(NULL);
			if (IS_ERR(vdev)) {
				pr_err("%s: %pe\n", drv->name, vdev);
				vfio_sample_devices_destroy();
				return PTR_ERR(vdev);
			}
			vfio_sample_devices[vfio_sample_nr_devices++] =
				(struct vfio_sample_device){ drv, vdev };
			pr_info("%s: %s\n", drv->name, dev_name(&vdev->device));
		}
	}
	return 0;
}

/* After the sample drivers, which register at device_initcall() time */
late_initcall(vfio_sample_devices_init);

static void __exit vfio_sample_devices_exit(void)
{
	vfio_sample_devices_destroy();
}
module_exit(vfio_sample_devices_exit);

MODULE_DESCRIPTION("Devices of the VFIO sample drivers, for user space");
MODULE_LICENSE("GPL");
