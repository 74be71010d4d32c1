// SPDX-License-Identifier: GPL-2.0-only
/*
 * VFIO sample driver for a physical device behind an IOMMU.
 *
 * The device is one of iommufd's mock devices (CONFIG_IOMMUFD_TEST): it sits
 * in an iommu_group behind the mock IOMMU, so everything from
 * iommufd_device_bind() to the IOMMU domain attach is the real code a PCI or
 * platform device goes through. The module's driver on the mock bus is bound
 * to the device, as a PCI driver is to its function, and the VFIO device is
 * registered on it with vfio_register_group_dev(); the four iommufd callbacks
 * are the vfio_iommufd_physical_*() helpers, as every physical VFIO driver
 * should have them. The mock device has PASIDs (MOCK_FLAGS_DEVICE_PASID), so
 * the driver has the two PASID callbacks too, the helpers vfio-pci has.
 */
#include <linux/err.h>
#include <linux/iommufd_kunit.h>
#include <linux/module.h>
#include <linux/vfio.h>

#include "iommufd_test.h"
#include "vfio_sample.h"

struct vfio_sample_phys {
	struct vfio_device vdev;
};

static const struct vfio_device_ops vfio_sample_phys_ops = {
	.name		= "vfio-sample-phys",
	.bind_iommufd	= vfio_iommufd_physical_bind,
	.unbind_iommufd	= vfio_iommufd_physical_unbind,
	.attach_ioas	= vfio_iommufd_physical_attach_ioas,
	.detach_ioas	= vfio_iommufd_physical_detach_ioas,
	.pasid_attach_ioas	= vfio_iommufd_physical_pasid_attach_ioas,
	.pasid_detach_ioas	= vfio_iommufd_physical_pasid_detach_ioas,
};

/*
 * The driver of the mock devices the VFIO devices stand for. Opening a VFIO
 * device pins the module of its parent's driver, so unbinding through sysfs,
 * which would pull the driver from under an open device, is not offered.
 */
static struct device_driver vfio_sample_phys_driver = {
	.name			= "vfio-sample-phys",
	.owner			= THIS_MODULE,
	.suppress_bind_attrs	= true,
};

/**
 * vfio_sample_phys_create - Create and register a physical sample device
 * @group_peer: NULL for a device in an iommu_group of its own, or a device
 *              from this function whose group the new one joins
 *
 * Return: the registered vfio_device or an ERR_PTR().
 */
struct vfio_device *vfio_sample_phys_create(struct vfio_device *group_peer)
{
	struct vfio_sample_phys *sp;
	struct device *dev;
	int ret;

	dev = iommufd_test_mock_dev_create(MOCK_FLAGS_DEVICE_PASID,
					   group_peer ? group_peer->dev : NULL,
					   vfio_sample_phys_driver.name);
	if (IS_ERR(dev))
		return ERR_CAST(dev);

	sp = vfio_alloc_device(vfio_sample_phys, vdev, dev,
			       &vfio_sample_phys_ops);
	if (IS_ERR(sp)) {
		ret = PTR_ERR(sp);
		goto err_dev;
	}

	ret = vfio_register_group_dev(&sp->vdev);
	if (ret)
		goto err_put;
	return &sp->vdev;

err_put:
	vfio_put_device(&sp->vdev);
err_dev:
	iommufd_test_mock_dev_destroy(dev);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_GPL(vfio_sample_phys_create);

/**
 * vfio_sample_phys_destroy - Unregister and free a physical sample device
 * @vdev: Device from vfio_sample_phys_create()
 */
void vfio_sample_phys_destroy(struct vfio_device *vdev)
{
	struct device *dev = vdev->dev;

	vfio_unregister_group_dev(vdev);
	vfio_put_device(vdev);
	iommufd_test_mock_dev_destroy(dev);
}
EXPORT_SYMBOL_GPL(vfio_sample_phys_destroy);

static int __init vfio_sample_phys_init(void)
{
	return iommufd_test_mock_driver_register(&vfio_sample_phys_driver);
}
module_init(vfio_sample_phys_init);

static void __exit vfio_sample_phys_exit(void)
{
	iommufd_test_mock_driver_unregister(&vfio_sample_phys_driver);
}
module_exit(vfio_sample_phys_exit);

MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING");
MODULE_DESCRIPTION("VFIO sample driver for a physical device on the iommufd mock IOMMU");
MODULE_LICENSE("GPL");
