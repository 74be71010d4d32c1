// SPDX-License-Identifier: GPL-2.0

#include <linux/vfio.h>

__rust_helper void rust_helper_vfio_put_device(struct vfio_device *device)
{
	vfio_put_device(device);
}

__rust_helper void
rust_helper_vfio_device_assert_dev_set_locked(struct vfio_device *device)
{
	lockdep_assert_held(&device->dev_set->lock);
}
