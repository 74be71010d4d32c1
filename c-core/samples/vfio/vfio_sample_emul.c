// SPDX-License-Identifier: GPL-2.0-only
/*
 * VFIO sample driver for an emulated-IOMMU device.
 *
 * A device with no IOMMU of its own reaches guest memory through the CPU:
 * vfio_pin_pages() and vfio_dma_rw() on an iommufd_access. The driver
 * registers with vfio_register_emulated_iommu_dev() and wires the four
 * iommufd callbacks to the vfio_iommufd_emulated_*() helpers. Its dma_unmap
 * callback is where a real driver would unpin what it pinned in the range;
 * this one records the call, so that tests can see when iommufd asks for it.
 */
#include <linux/err.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/spinlock.h>
#include <linux/vfio.h>

#include "vfio_sample.h"

struct vfio_sample_emul {
	struct vfio_device vdev;
	struct platform_device *pdev;
	spinlock_t lock;		/* protects the two below */
	unsigned int nr_unmaps;
	struct vfio_sample_unmap last_unmap;
};

static struct vfio_sample_emul *to_sample(struct vfio_device *vdev)
{
	return container_of(vdev, struct vfio_sample_emul, vdev);
}

static int vfio_sample_emul_init(struct vfio_device *vdev)
{
	spin_lock_init(&to_sample(vdev)->lock);
	return 0;
}

static void vfio_sample_emul_dma_unmap(struct vfio_device *vdev, u64 iova,
				       u64 length)
{
	struct vfio_sample_emul *se = to_sample(vdev);

	spin_lock(&se->lock);
	se->nr_unmaps++;
	se->last_unmap.iova = iova;
	se->last_unmap.length = length;
	spin_unlock(&se->lock);
}

static const struct vfio_device_ops vfio_sample_emul_ops = {
	.name		= "vfio-sample-emul",
	.init		= vfio_sample_emul_init,
	.dma_unmap	= vfio_sample_emul_dma_unmap,
	.bind_iommufd	= vfio_iommufd_emulated_bind,
	.unbind_iommufd	= vfio_iommufd_emulated_unbind,
	.attach_ioas	= vfio_iommufd_emulated_attach_ioas,
	.detach_ioas	= vfio_iommufd_emulated_detach_ioas,
};

/**
 * vfio_sample_emul_create - Create and register an emulated sample device
 * @group_peer: Must be NULL: emulated devices have no iommu_group to share
 *
 * The vfio_device's parent is a platform device made for it.
 *
 * Return: the registered vfio_device or an ERR_PTR().
 */
struct vfio_device *vfio_sample_emul_create(struct vfio_device *group_peer)
{
	struct platform_device *pdev;
	struct vfio_sample_emul *se;
	int ret;

	if (group_peer)
		return ERR_PTR(-EINVAL);

	pdev = platform_device_register_simple("vfio-sample-emul",
					       PLATFORM_DEVID_AUTO, NULL, 0);
	if (IS_ERR(pdev))
		return ERR_CAST(pdev);

	se = vfio_alloc_device(vfio_sample_emul, vdev, &pdev->dev,
			       &vfio_sample_emul_ops);
	if (IS_ERR(se)) {
		ret = PTR_ERR(se);
		goto err_pdev;
	}
	se->pdev = pdev;

	ret = vfio_register_emulated_iommu_dev(&se->vdev);
	if (ret)
		goto err_put;
	return &se->vdev;

err_put:
	vfio_put_device(&se->vdev);
err_pdev:
	platform_device_unregister(pdev);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_GPL(vfio_sample_emul_create);

/**
 * vfio_sample_emul_destroy - Unregister and free an emulated sample device
 * @vdev: Device from vfio_sample_emul_create()
 */
void vfio_sample_emul_destroy(struct vfio_device *vdev)
{
	struct platform_device *pdev = to_sample(vdev)->pdev;

	vfio_unregister_group_dev(vdev);
	vfio_put_device(vdev);
	platform_device_unregister(pdev);
}
EXPORT_SYMBOL_GPL(vfio_sample_emul_destroy);

/**
 * vfio_sample_emul_unmaps - Report the dma_unmap calls a device received
 * @vdev: Device from vfio_sample_emul_create()
 * @last: If not NULL, filled with the arguments of the last call
 *
 * Return: the number of dma_unmap calls since the device was created.
 */
unsigned int vfio_sample_emul_unmaps(struct vfio_device *vdev,
				     struct vfio_sample_unmap *last)
{
	struct vfio_sample_emul *se = to_sample(vdev);
	unsigned int nr;

	spin_lock(&se->lock);
	nr = se->nr_unmaps;
	if (last)
		*last = se->last_unmap;
	spin_unlock(&se->lock);
	return nr;
}
EXPORT_SYMBOL_GPL(vfio_sample_emul_unmaps);

MODULE_DESCRIPTION("VFIO sample driver for an emulated-IOMMU device");
MODULE_LICENSE("GPL");
