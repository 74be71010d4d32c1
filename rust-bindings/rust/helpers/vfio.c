// SPDX-License-Identifier: GPL-2.0

#include <linux/module.h>
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

/*
 * A Rust VFIO device keeps the module of its driver loaded while it is open,
 * and its registration ends when that module is unloaded, when the VFIO
 * core's reference on the parent's driver does not cover it. Without
 * CONFIG_MODULES these are inline.
 */
__rust_helper bool rust_helper_try_module_get(struct module *module)
{
	return try_module_get(module);
}

__rust_helper void rust_helper_module_put(struct module *module)
{
	module_put(module);
}

__rust_helper int rust_helper_register_module_notifier(struct notifier_block *nb)
{
	return register_module_notifier(nb);
}

__rust_helper int
rust_helper_unregister_module_notifier(struct notifier_block *nb)
{
	return unregister_module_notifier(nb);
}
