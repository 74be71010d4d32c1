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
 *
 * Region VFIO_SAMPLE_REGION_MAILBOX is two pages: a mailbox page, which user
 * space maps (the region's one sparse mmap area) or reads and writes through
 * the file, then the registers' page, whose VFIO_SAMPLE_REG_DOORBELL rings a
 * doorbell when written and reads as the number of rings since the last
 * reset. A ring signals the eventfd user space set with VFIO_DEVICE_SET_IRQS
 * for VFIO_SAMPLE_IRQ_DOORBELL, which the close of the device drops; a
 * request to close the device signals the one of VFIO_SAMPLE_IRQ_REQ.
 * VFIO_DEVICE_RESET zeroes the mailbox and the count.
 */
#include <linux/err.h>
#include <linux/eventfd.h>
#include <linux/highmem.h>
#include <linux/iommu.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
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
	struct page *mailbox;
	struct mutex irq_lock;		/* protects the three below */
	u32 doorbells;
	/* Until the device is closed, or user space removes them */
	struct eventfd_ctx *doorbell_trigger;
	struct eventfd_ctx *req_trigger;
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
	mutex_init(&se->irq_lock);
	se->mailbox = alloc_page(GFP_KERNEL | __GFP_ZERO);
	return se->mailbox ? 0 : -ENOMEM;
}

static void vfio_sample_emul_release(struct vfio_device *vdev)
{
	struct vfio_sample_emul *se = to_sample(vdev);

	__free_page(se->mailbox);
	mutex_destroy(&se->irq_lock);
}

static void vfio_sample_emul_set_trigger(struct eventfd_ctx **slot,
					 struct eventfd_ctx *trigger)
{
	if (*slot)
		eventfd_ctx_put(*slot);
	*slot = trigger;
}

/* The triggers live until the device is closed */
static void vfio_sample_emul_close_device(struct vfio_device *vdev)
{
	struct vfio_sample_emul *se = to_sample(vdev);

	mutex_lock(&se->irq_lock);
	vfio_sample_emul_set_trigger(&se->doorbell_trigger, NULL);
	vfio_sample_emul_set_trigger(&se->req_trigger, NULL);
	mutex_unlock(&se->irq_lock);
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

/* The mailbox page or the registers' page, at @offset of the region */
static int vfio_sample_emul_mailbox(struct vfio_device *vdev, u64 offset,
				    void *buf, size_t count, bool write)
{
	struct vfio_sample_emul *se = to_sample(vdev);
	size_t in_page = offset_in_page(offset);

	if (in_page + count > PAGE_SIZE)
		return -EINVAL;
	if (offset < PAGE_SIZE) {
		if (write)
			memcpy_to_page(se->mailbox, in_page, buf, count);
		else
			memcpy_from_page(buf, se->mailbox, in_page, count);
		return 0;
	}
	if (offset != PAGE_SIZE + VFIO_SAMPLE_REG_DOORBELL ||
	    count != sizeof(u32))
		return -EINVAL;

	mutex_lock(&se->irq_lock);
	if (write) {
		se->doorbells++;
		if (se->doorbell_trigger)
			eventfd_signal(se->doorbell_trigger);
	} else {
		memcpy(buf, &se->doorbells, sizeof(u32));
	}
	mutex_unlock(&se->irq_lock);
	return 0;
}

/*
 * DMA between @buf and guest memory, or the mailbox region, as the region of
 * file offset @pos says
 */
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
	case VFIO_SAMPLE_REGION_MAILBOX:
		return vfio_sample_emul_mailbox(vdev, iova, buf, count, write);
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

static int vfio_sample_emul_get_info(struct vfio_device_info __user *arg)
{
	unsigned long minsz = offsetofend(struct vfio_device_info, num_irqs);
	struct vfio_device_info info;

	if (copy_from_user(&info, arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;

	info.flags = VFIO_DEVICE_FLAGS_RESET;
	info.num_regions = VFIO_SAMPLE_NUM_REGIONS;
	info.num_irqs = VFIO_SAMPLE_NUM_IRQS;
	return copy_to_user(arg, &info, minsz) ? -EFAULT : 0;
}

static int vfio_sample_emul_get_irq_info(struct vfio_irq_info __user *arg)
{
	unsigned long minsz = offsetofend(struct vfio_irq_info, count);
	struct vfio_irq_info info;

	if (copy_from_user(&info, arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz || info.index >= VFIO_SAMPLE_NUM_IRQS)
		return -EINVAL;

	info.flags = VFIO_IRQ_INFO_EVENTFD;
	info.count = 1;
	return copy_to_user(arg, &info, minsz) ? -EFAULT : 0;
}

/*
 * VFIO_IRQ_SET_ACTION_TRIGGER only: an eventfd sets or (negative) removes
 * the trigger, no data fires it, or removes it for an empty range, a bool
 * fires it if true
 */
static int vfio_sample_emul_set_irqs(struct vfio_sample_emul *se,
				     struct vfio_irq_set __user *arg)
{
	unsigned long minsz = offsetofend(struct vfio_irq_set, count);
	struct eventfd_ctx **slot, *trigger = NULL;
	struct vfio_irq_set hdr;
	size_t data_size;
	u8 data[4] = {};
	bool fire;
	s32 fd;
	int ret;

	if (copy_from_user(&hdr, arg, minsz))
		return -EFAULT;
	ret = vfio_set_irqs_validate_and_prepare(&hdr, 1, VFIO_SAMPLE_NUM_IRQS,
						 &data_size);
	if (ret)
		return ret;
	if ((hdr.flags & VFIO_IRQ_SET_ACTION_TYPE_MASK) !=
	    VFIO_IRQ_SET_ACTION_TRIGGER)
		return -EINVAL;
	if (data_size && copy_from_user(data, arg->data, data_size))
		return -EFAULT;

	if ((hdr.flags & VFIO_IRQ_SET_DATA_TYPE_MASK) ==
	    VFIO_IRQ_SET_DATA_EVENTFD && hdr.count) {
		memcpy(&fd, data, sizeof(fd));
		if (fd >= 0) {
			trigger = eventfd_ctx_fdget(fd);
			if (IS_ERR(trigger))
				return PTR_ERR(trigger);
		}
	}

	mutex_lock(&se->irq_lock);
	slot = hdr.index == VFIO_SAMPLE_IRQ_DOORBELL ? &se->doorbell_trigger :
						      &se->req_trigger;
	switch (hdr.flags & VFIO_IRQ_SET_DATA_TYPE_MASK) {
	case VFIO_IRQ_SET_DATA_EVENTFD:
		if (hdr.count)
			vfio_sample_emul_set_trigger(slot, trigger);
		break;
	case VFIO_IRQ_SET_DATA_NONE:
	case VFIO_IRQ_SET_DATA_BOOL:
		fire = (hdr.flags & VFIO_IRQ_SET_DATA_BOOL) ? data[0] : true;
		if (!hdr.count && (hdr.flags & VFIO_IRQ_SET_DATA_NONE))
			vfio_sample_emul_set_trigger(slot, NULL);
		else if (hdr.count && fire && *slot)
			eventfd_signal(*slot);
		break;
	}
	mutex_unlock(&se->irq_lock);
	return 0;
}

static long vfio_sample_emul_ioctl(struct vfio_device *vdev, unsigned int cmd,
				   unsigned long arg)
{
	struct vfio_sample_emul *se = to_sample(vdev);
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case VFIO_DEVICE_GET_INFO:
		return vfio_sample_emul_get_info(uarg);
	case VFIO_DEVICE_GET_IRQ_INFO:
		return vfio_sample_emul_get_irq_info(uarg);
	case VFIO_DEVICE_SET_IRQS:
		return vfio_sample_emul_set_irqs(se, uarg);
	case VFIO_DEVICE_RESET:
		mutex_lock(&se->irq_lock);
		memzero_page(se->mailbox, 0, PAGE_SIZE);
		se->doorbells = 0;
		mutex_unlock(&se->irq_lock);
		return 0;
	default:
		return -ENOTTY;
	}
}

static int vfio_sample_emul_region_info(struct vfio_device *vdev,
					struct vfio_region_info *info,
					struct vfio_info_cap *caps)
{
	struct vfio_region_info_cap_sparse_mmap *sparse;
	size_t size = struct_size(sparse, areas, 1);
	int ret;

	info->offset = (u64)info->index << VFIO_SAMPLE_REGION_SHIFT;
	info->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
	switch (info->index) {
	case VFIO_SAMPLE_REGION_DMA_RW:
	case VFIO_SAMPLE_REGION_PIN:
		info->size = BIT_ULL(VFIO_SAMPLE_REGION_SHIFT);
		return 0;
	case VFIO_SAMPLE_REGION_MAILBOX:
		sparse = kzalloc(size, GFP_KERNEL);
		if (!sparse)
			return -ENOMEM;
		sparse->header.id = VFIO_REGION_INFO_CAP_SPARSE_MMAP;
		sparse->header.version = 1;
		sparse->nr_areas = 1;
		sparse->areas[0].size = PAGE_SIZE;
		ret = vfio_info_add_capability(caps, &sparse->header, size);
		kfree(sparse);
		if (ret)
			return ret;
		info->size = 2 * PAGE_SIZE;
		info->flags |= VFIO_REGION_INFO_FLAG_MMAP;
		return 0;
	default:
		return -EINVAL;
	}
}

/* The mailbox page only, shared */
static int vfio_sample_emul_mmap(struct vfio_device *vdev,
				 struct vm_area_struct *vma)
{
	struct vfio_sample_emul *se = to_sample(vdev);

	if (vma->vm_pgoff != (u64)VFIO_SAMPLE_REGION_MAILBOX <<
			     (VFIO_SAMPLE_REGION_SHIFT - PAGE_SHIFT) ||
	    vma->vm_end - vma->vm_start != PAGE_SIZE ||
	    !(vma->vm_flags & VM_SHARED))
		return -EINVAL;

	vm_flags_set(vma, VM_DONTEXPAND);
	return vm_insert_page(vma, vma->vm_start, se->mailbox);
}

/* Ask user space to close the device, as its unregistration waits for it */
static void vfio_sample_emul_request(struct vfio_device *vdev,
				     unsigned int count)
{
	struct vfio_sample_emul *se = to_sample(vdev);

	mutex_lock(&se->irq_lock);
	if (se->req_trigger) {
		if (!count)
			dev_info(vdev->dev,
				 "asking user space to close the device\n");
		eventfd_signal(se->req_trigger);
	}
	mutex_unlock(&se->irq_lock);
}

static const struct vfio_device_ops vfio_sample_emul_ops = {
	.name		= "vfio-sample-emul",
	.init		= vfio_sample_emul_init,
	.release	= vfio_sample_emul_release,
	.close_device	= vfio_sample_emul_close_device,
	.read		= vfio_sample_emul_read,
	.write		= vfio_sample_emul_write,
	.ioctl		= vfio_sample_emul_ioctl,
	.get_region_info_caps = vfio_sample_emul_region_info,
	.mmap		= vfio_sample_emul_mmap,
	.request	= vfio_sample_emul_request,
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
