// SPDX-License-Identifier: GPL-2.0-only
/*
 * VFIO sample driver for an emulated-IOMMU device.
 *
 * A device with no IOMMU of its own reaches guest memory through the CPU:
 * vfio_pin_pages() and vfio_dma_rw() on an iommufd_access. The module's
 * platform driver is bound to the device, and the VFIO device is registered
 * on it with vfio_register_emulated_iommu_dev(); the four iommufd callbacks
 * are the vfio_iommufd_emulated_*() helpers.
 *
 * iommufd calls dma_unmap when an IOAS range goes away (IOMMU_IOAS_UNMAP,
 * DETACH, unbind, a replace onto another IOAS), concurrently with the
 * driver's own DMA paths, and relies on this: when dma_unmap returns, the
 * driver holds no pin in the range and will not touch it again. Before it
 * calls dma_unmap, iommufd makes new pins of the range fail; so dma_unmap
 * only has to wait for the pins already taken. Here every pin lives inside
 * pin_lock held for read, from vfio_pin_pages() to vfio_unpin_pages(), and
 * dma_unmap takes pin_lock for write. vfio_dma_rw() needs no such care: it
 * holds no pin once it returns. The callback also records the call, so that
 * tests can see when iommufd asks for it.
 *
 * The device does DMA when user space reads or writes its file, at offset
 * (region << VFIO_SAMPLE_REGION_SHIFT) | iova, up to a page at a time:
 * region VFIO_SAMPLE_REGION_DMA_RW copies through vfio_dma_rw(), region
 * VFIO_SAMPLE_REGION_PIN through vfio_pin_pages() of the page holding the
 * range. A read copies guest memory to the caller; a write the reverse.
 */
#include <linux/err.h>
#include <linux/highmem.h>
#include <linux/iommu.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/rwsem.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>

#include "vfio_sample.h"

struct vfio_sample_emul {
	struct vfio_device vdev;
	struct platform_device *pdev;
	/* Held for read across each pin, for write by dma_unmap */
	struct rw_semaphore pin_lock;
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
	struct vfio_sample_emul *se = to_sample(vdev);

	init_rwsem(&se->pin_lock);
	spin_lock_init(&se->lock);
	return 0;
}

static void vfio_sample_emul_dma_unmap(struct vfio_device *vdev, u64 iova,
				       u64 length)
{
	struct vfio_sample_emul *se = to_sample(vdev);

	/* Wait for the pins taken before iommufd blocked the range */
	down_write(&se->pin_lock);
	up_write(&se->pin_lock);

	spin_lock(&se->lock);
	se->nr_unmaps++;
	se->last_unmap.iova = iova;
	se->last_unmap.length = length;
	spin_unlock(&se->lock);
}

/*
 * Copy @count bytes at @iova through a pin of the page that holds them. The
 * pin lives inside pin_lock, so dma_unmap cannot return while it does; @buf
 * is kernel memory: touching user memory under pin_lock could wait on a
 * thread that waits on dma_unmap.
 */
static int vfio_sample_emul_pin_rw(struct vfio_device *vdev, u64 iova,
				   void *buf, size_t count, bool write)
{
	struct vfio_sample_emul *se = to_sample(vdev);
	size_t offset = offset_in_page(iova);
	struct page *page;
	int ret;

	if (offset + count > PAGE_SIZE)
		return -EINVAL;

	down_read(&se->pin_lock);
	ret = vfio_pin_pages(vdev, iova - offset, 1,
			     IOMMU_READ | (write ? IOMMU_WRITE : 0), &page);
	if (ret < 0)
		goto out_unlock;

	if (write)
		memcpy_to_page(page, offset, buf, count);
	else
		memcpy_from_page(buf, page, offset, count);

	vfio_unpin_pages(vdev, iova - offset, 1);
	ret = 0;
out_unlock:
	up_read(&se->pin_lock);
	return ret;
}

/* DMA between @buf and guest memory, as the region of file offset @pos says */
static int vfio_sample_emul_dma(struct vfio_device *vdev, loff_t pos,
				void *buf, size_t count, bool write)
{
	u64 region = pos >> VFIO_SAMPLE_REGION_SHIFT;
	u64 iova = pos & (BIT_ULL(VFIO_SAMPLE_REGION_SHIFT) - 1);

	switch (region) {
	case VFIO_SAMPLE_REGION_DMA_RW:
		return vfio_dma_rw(vdev, iova, buf, count, write);
	case VFIO_SAMPLE_REGION_PIN:
		return vfio_sample_emul_pin_rw(vdev, iova, buf, count, write);
	default:
		return -EINVAL;
	}
}

static ssize_t vfio_sample_emul_read(struct vfio_device *vdev,
				     char __user *ubuf, size_t count,
				     loff_t *ppos)
{
	void *buf;
	int ret;

	if (*ppos < 0 || count > PAGE_SIZE)
		return -EINVAL;
	if (!count)
		return 0;

	buf = kmalloc(count, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	ret = vfio_sample_emul_dma(vdev, *ppos, buf, count, false);
	if (!ret && copy_to_user(ubuf, buf, count))
		ret = -EFAULT;
	kfree(buf);
	if (ret)
		return ret;

	*ppos += count;
	return count;
}

static ssize_t vfio_sample_emul_write(struct vfio_device *vdev,
				      const char __user *ubuf, size_t count,
				      loff_t *ppos)
{
	void *buf;
	int ret;

	if (*ppos < 0 || count > PAGE_SIZE)
		return -EINVAL;
	if (!count)
		return 0;

	buf = memdup_user(ubuf, count);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	ret = vfio_sample_emul_dma(vdev, *ppos, buf, count, true);
	kfree(buf);
	if (ret)
		return ret;

	*ppos += count;
	return count;
}

static const struct vfio_device_ops vfio_sample_emul_ops = {
	.name		= "vfio-sample-emul",
	.init		= vfio_sample_emul_init,
	.read		= vfio_sample_emul_read,
	.write		= vfio_sample_emul_write,
	.dma_unmap	= vfio_sample_emul_dma_unmap,
	.bind_iommufd	= vfio_iommufd_emulated_bind,
	.unbind_iommufd	= vfio_iommufd_emulated_unbind,
	.attach_ioas	= vfio_iommufd_emulated_attach_ioas,
	.detach_ioas	= vfio_iommufd_emulated_detach_ioas,
};

/*
 * The driver of the platform devices the VFIO devices stand for. Opening a
 * VFIO device pins the module of its parent's driver, so unbinding through
 * sysfs, which would pull the driver from under an open device, is not
 * offered.
 */
static struct platform_driver vfio_sample_emul_driver = {
	.driver = {
		.name			= "vfio-sample-emul",
		.suppress_bind_attrs	= true,
	},
};

/**
 * vfio_sample_emul_create - Create and register an emulated sample device
 * @group_peer: Must be NULL: emulated devices have no iommu_group to share
 *
 * The vfio_device's parent is a platform device made for it, bound to the
 * module's platform driver.
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

	pdev = platform_device_register_simple(vfio_sample_emul_driver.driver.name,
					       PLATFORM_DEVID_AUTO, NULL, 0);
	if (IS_ERR(pdev))
		return ERR_CAST(pdev);

	device_lock(&pdev->dev);
	ret = pdev->dev.driver ? 0 : -ENODEV;
	device_unlock(&pdev->dev);
	if (ret)
		goto err_pdev;

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

module_platform_driver(vfio_sample_emul_driver);

MODULE_DESCRIPTION("VFIO sample driver for an emulated-IOMMU device");
MODULE_LICENSE("GPL");
