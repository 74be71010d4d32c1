/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers shared by the tests of the VFIO device cdev in this folder and by
 * other programs that drive the devices of the VFIO sample drivers through
 * /dev/vfio/devices/vfioN: finding such a device, the VFIO and iommufd
 * ioctls, the DMA of an emulated sample device, and checks for tests.
 *
 * A device is found through the driver of /sys/class/vfio-dev/vfioN/device:
 * the parents of the samples are bound to vfio-sample-phys (physical, on
 * iommufd's mock IOMMU) or vfio-sample-emul (emulated IOMMU, through
 * iommufd_access), or each to a driver of its own, named after those with
 * a suffix -N. Reading or writing an emulated
 * device's fd makes it do DMA at the file offset (region << 40) | iova, up
 * to a page at a time: region 0 through vfio_dma_rw(), region 1 through
 * vfio_pin_pages() of the page holding the range.
 *
 * On x86_64 guests of QEMU the device may also be QEMU's edu test device
 * (PCI 1234:11e8), bound to vfio-pci behind a virtual IOMMU: its own DMA,
 * programmed through its BAR 0, then shows what the IOMMU lets it reach.
 *
 * What libvfio (lib/, the library of this folder's other tests) already
 * does is taken from it: an iommufd with an IOAS is its struct iommu
 * (iommu_init()), user memory goes in and out of an IOAS with its
 * __iommu_map() and __iommu_unmap(), and a PCI device is named by
 * VFIO_SELFTESTS_BDF and found with vfio_pci_get_cdev_path(). Here are
 * the ioctls whose argsz, flags and errors the tests check themselves,
 * and the devices libvfio does not know.
 *
 * The helpers that assert take the harness's _metadata: they are defined
 * when kselftest_harness.h is included before this header, as the tests
 * do. A program outside the harness gets the others.
 */
#ifndef __SELFTESTS_VFIO_CDEV_UTIL_H
#define __SELFTESTS_VFIO_CDEV_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <linux/pci_regs.h>

#include <linux/iommufd.h>
#include <linux/vfio.h>

#include <libvfio.h>

#include "../../../../drivers/iommu/iommufd/iommufd_test.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

/* File offsets of an emulated sample device's DMA windows */
#define DMA_REGION_SHIFT	40
#define DMA_REGION_RW		0	/* vfio_dma_rw() */
#define DMA_REGION_PIN		1	/* vfio_pin_pages() */
/*
 * Its mailbox region: a page user space maps, then a page of registers
 * whose first rings a doorbell; its interrupts: a ring, and a request to
 * close the device (see samples/vfio/vfio_sample_emul.c)
 */
#define MAILBOX_REGION		2
#define NUM_REGIONS		3
#define IRQ_DOORBELL		0
#define IRQ_REQ			1
#define NUM_IRQS		2

/* An IOVA inside the mock IOMMU's aperture, used for every device */
#define TEST_IOVA		((__u64)MOCK_APERTURE_START)
/* Bytes the device reads or writes at a time in the DMA checks */
#define DMA_LEN			64

/* The device under test, with the iommufd it is bound to */
struct vfio_dut {
	bool emulated;
	bool edu;			/* QEMU's edu device, on vfio-pci */
	struct iommu *iommu;		/* libvfio's iommufd and its IOAS */
	int iommufd;			/* iommu->iommufd, -1 once closed */
	int fd;				/* the device cdev, -1 once closed */
	__u32 devid;			/* its id in iommufd, after BIND */
	char cdev[PATH_MAX];		/* /dev/vfio/devices/vfioN */
	char group[PATH_MAX];		/* /dev/vfio/<iommu group id> */
};

static inline size_t page_size(void)
{
	return sysconf(_SC_PAGESIZE);
}

/* Fill @buf with a pattern of its own for each @seed */
static inline void fill(void *buf, size_t len, unsigned int seed)
{
	unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = seed + i * 131;
}

/* Seconds of CLOCK_MONOTONIC */
static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The VFIO device ioctls, each returning what ioctl() returns */

static inline int __vfio_bind(int fd, __u32 argsz, __u32 flags,
			      __s32 iommufd, __u32 *devid)
{
	struct vfio_device_bind_iommufd bind = {
		.argsz = argsz,
		.flags = flags,
		.iommufd = iommufd,
	};
	int ret;

	ret = ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, &bind);
	if (!ret && devid)
		*devid = bind.out_devid;
	return ret;
}

static inline int vfio_bind(int fd, int iommufd, __u32 *devid)
{
	return __vfio_bind(fd, sizeof(struct vfio_device_bind_iommufd), 0,
			   iommufd, devid);
}

static inline int __vfio_attach(int fd, __u32 argsz, __u32 flags,
				__u32 *pt_id)
{
	struct vfio_device_attach_iommufd_pt attach = {
		.argsz = argsz,
		.flags = flags,
		.pt_id = *pt_id,
	};
	int ret;

	ret = ioctl(fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach);
	if (!ret)
		*pt_id = attach.pt_id;
	return ret;
}

static inline int vfio_attach(int fd, __u32 *pt_id)
{
	return __vfio_attach(fd, sizeof(struct vfio_device_attach_iommufd_pt),
			     0, pt_id);
}

static inline int __vfio_detach(int fd, __u32 argsz, __u32 flags)
{
	struct vfio_device_detach_iommufd_pt detach = {
		.argsz = argsz,
		.flags = flags,
	};

	return ioctl(fd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &detach);
}

static inline int vfio_detach(int fd)
{
	return __vfio_detach(fd, sizeof(struct vfio_device_detach_iommufd_pt),
			     0);
}

/* ATTACH and DETACH of a PASID of the device */
static inline int vfio_pasid_attach(int fd, __u32 pasid, __u32 *pt_id)
{
	struct vfio_device_attach_iommufd_pt attach = {
		.argsz = sizeof(attach),
		.flags = VFIO_DEVICE_ATTACH_PASID,
		.pt_id = *pt_id,
		.pasid = pasid,
	};
	int ret;

	ret = ioctl(fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach);
	if (!ret)
		*pt_id = attach.pt_id;
	return ret;
}

static inline int vfio_pasid_detach(int fd, __u32 pasid)
{
	struct vfio_device_detach_iommufd_pt detach = {
		.argsz = sizeof(detach),
		.flags = VFIO_DEVICE_DETACH_PASID,
		.pasid = pasid,
	};

	return ioctl(fd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &detach);
}

/* DMA of an emulated device: it reads guest memory into @buf */
static inline ssize_t dma_read(int fd, int region, __u64 iova, void *buf,
			       size_t len)
{
	return pread(fd, buf, len, (__u64)region << DMA_REGION_SHIFT | iova);
}

/* DMA of an emulated device: it writes @buf into guest memory */
static inline ssize_t dma_write(int fd, int region, __u64 iova,
				const void *buf, size_t len)
{
	return pwrite(fd, buf, len, (__u64)region << DMA_REGION_SHIFT | iova);
}

/* The file offset of @off in an emulated device's mailbox region */
static inline __u64 mailbox_offset(__u64 off)
{
	return (__u64)MAILBOX_REGION << DMA_REGION_SHIFT | off;
}

/* Ring an emulated device's doorbell: write its register */
static inline ssize_t ring_doorbell(int fd)
{
	__u32 val = 1;

	return pwrite(fd, &val, sizeof(val), mailbox_offset(page_size()));
}

/* VFIO_DEVICE_SET_IRQS on one interrupt of @index, with @data if any */
static inline int set_irq(int fd, __u32 index, __u32 flags, __u32 count,
			  const void *data, size_t len)
{
	struct {
		struct vfio_irq_set set;
		__u8 data[8];
	} arg = {
		.set = {
			.argsz = sizeof(arg.set) + len,
			.flags = flags,
			.index = index,
			.count = count,
		},
	};

	memcpy(arg.data, data, len);
	return ioctl(fd, VFIO_DEVICE_SET_IRQS, &arg);
}

/* Set (@efd >= 0) or remove (-1) the eventfd of interrupt @index */
static inline int set_trigger(int fd, __u32 index, __s32 efd)
{
	return set_irq(fd, index,
		       VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
		       1, &efd, sizeof(efd));
}

/* The count of the eventfd @efd (non-blocking), 0 if it was not signalled */
static inline __u64 eventfd_count(int efd)
{
	__u64 count;

	if (read(efd, &count, sizeof(count)) != sizeof(count))
		return 0;
	return count;
}

/* The iommufd ioctls, each returning what ioctl() returns */

static inline int ioas_alloc(int iommufd, __u32 *ioas_id)
{
	struct iommu_ioas_alloc cmd = { .size = sizeof(cmd) };
	int ret;

	ret = ioctl(iommufd, IOMMU_IOAS_ALLOC, &cmd);
	if (!ret)
		*ioas_id = cmd.out_ioas_id;
	return ret;
}

static inline int iommufd_destroy(int iommufd, __u32 id)
{
	struct iommu_destroy cmd = { .size = sizeof(cmd), .id = id };

	return ioctl(iommufd, IOMMU_DESTROY, &cmd);
}

/*
 * libvfio's struct iommu for IOAS @ioas_id of the iommufd of @ctx, so that
 * its map calls reach that IOAS: @ioas, filled in. The IOAS itself goes
 * with IOMMU_DESTROY or the iommufd, not with @ioas.
 */
static inline struct iommu *ioas_iommu(const struct iommu *ctx,
				       __u32 ioas_id, struct iommu *ioas)
{
	*ioas = *ctx;
	INIT_LIST_HEAD(&ioas->dma_regions);
	ioas->ioas_id = ioas_id;
	return ioas;
}

static inline int ioas_iova_alignment(int iommufd, __u32 ioas_id,
				      __u64 *alignment)
{
	struct iommu_iova_range ranges[8];
	struct iommu_ioas_iova_ranges cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas_id,
		.num_iovas = ARRAY_SIZE(ranges),
		.allowed_iovas = (uintptr_t)ranges,
	};
	int ret;

	ret = ioctl(iommufd, IOMMU_IOAS_IOVA_RANGES, &cmd);
	if (!ret)
		*alignment = cmd.out_iova_alignment;
	return ret;
}

/* IOMMU_HWPT_ALLOC with @flags (IOMMU_HWPT_ALLOC_*) */
static inline int hwpt_alloc_flags(int iommufd, __u32 dev_id, __u32 pt_id,
				   __u32 flags, __u32 *hwpt_id)
{
	struct iommu_hwpt_alloc cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.dev_id = dev_id,
		.pt_id = pt_id,
	};
	int ret;

	ret = ioctl(iommufd, IOMMU_HWPT_ALLOC, &cmd);
	if (!ret)
		*hwpt_id = cmd.out_hwpt_id;
	return ret;
}

static inline int hwpt_alloc(int iommufd, __u32 dev_id, __u32 pt_id,
			     __u32 *hwpt_id)
{
	return hwpt_alloc_flags(iommufd, dev_id, pt_id, 0, hwpt_id);
}

/* Whether the mock IOMMU domain @hwpt_id maps @len bytes at @iova to @buf */
static inline int md_check_map(int iommufd, __u32 hwpt_id, __u64 iova,
			       void *buf, size_t len)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_MD_CHECK_MAP,
		.id = hwpt_id,
		.check_map = {
			.iova = iova,
			.length = len,
			.uptr = (uintptr_t)buf,
		},
	};

	return ioctl(iommufd, IOMMU_TEST_CMD, &cmd);
}

/* Finding the device */

/* The last component of the path the symbolic link @path holds */
static inline int link_name(const char *path, char *name, size_t size)
{
	char target[PATH_MAX];
	ssize_t len;
	char *base;

	len = readlink(path, target, sizeof(target) - 1);
	if (len < 0)
		return -1;
	target[len] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	len = strlen(base);
	if ((size_t)len >= size)
		return -1;
	memcpy(name, base, len + 1);
	return 0;
}

/*
 * Whether @name is the driver @driver: a sample's parents are bound to a
 * driver of that name, or each to a driver of its own, named @driver-N.
 */
static inline bool driver_matches(const char *name, const char *driver)
{
	size_t len = strlen(driver);

	if (strncmp(name, driver, len))
		return false;
	if (!name[len])
		return true;
	if (name[len] != '-' || !name[len + 1])
		return false;
	return strspn(name + len + 1, "0123456789") == strlen(name + len + 1);
}

/*
 * Find the VFIO device whose parent is bound to @driver: fill in @d->cdev
 * and @d->group, the node of its IOMMU group, which every VFIO device has
 */
static inline int find_vfio_device(const char *driver, struct vfio_dut *d)
{
	char path[PATH_MAX], name[NAME_MAX + 1];
	struct dirent *de;
	int ret = -1;
	DIR *dir;

	dir = opendir("/sys/class/vfio-dev");
	if (!dir)
		return -1;
	while ((de = readdir(dir))) {
		if (strncmp(de->d_name, "vfio", 4))
			continue;
		snprintf(path, sizeof(path),
			 "/sys/class/vfio-dev/%s/device/driver", de->d_name);
		if (link_name(path, name, sizeof(name)) ||
		    !driver_matches(name, driver))
			continue;
		snprintf(path, sizeof(path),
			 "/sys/class/vfio-dev/%s/device/iommu_group",
			 de->d_name);
		if (link_name(path, name, sizeof(name)))
			break;
		snprintf(d->cdev, sizeof(d->cdev), "/dev/vfio/devices/%s",
			 de->d_name);
		snprintf(d->group, sizeof(d->group), "/dev/vfio/%s", name);
		ret = 0;
		break;
	}
	closedir(dir);
	return ret;
}

/*
 * QEMU's edu device: BAR 0 holds its DMA registers. Written a command with
 * EDU_DMA_RUN, it copies EDU_DMA_CNT bytes between its own buffer, at
 * EDU_BUF in its address space, and a bus address (here an IOVA): from the
 * IOVA into the buffer, or with EDU_DMA_TO_BUS out of it. It does so 100 ms
 * later, then clears EDU_DMA_RUN; a DMA the IOMMU refuses completes all the
 * same, without data. Its DMA mask is 28 bits: TEST_IOVA lies below it.
 */
#define EDU_DRIVER		"vfio-pci"
#define EDU_DMA_SRC		0x80
#define EDU_DMA_DST		0x88
#define EDU_DMA_CNT		0x90
#define EDU_DMA_CMD		0x98
#define EDU_DMA_RUN		0x1
#define EDU_DMA_TO_BUS		0x2
#define EDU_BUF			0x40000
/* Seconds a DMA may take: 100 ms of virtual time, slow under TCG */
#define EDU_DMA_TIMEOUT		10

/*
 * One 64-bit access to a register of a mapped BAR, neither merged with
 * another nor left out by the compiler
 */
static inline void bar_write(__u64 *regs, size_t reg, __u64 val)
{
	__atomic_store_n(&regs[reg / sizeof(*regs)], val, __ATOMIC_RELAXED);
}

static inline __u64 bar_read(__u64 *regs, size_t reg)
{
	return __atomic_load_n(&regs[reg / sizeof(*regs)], __ATOMIC_RELAXED);
}

static inline int vfio_region_info(int fd, __u32 index,
				   struct vfio_region_info *info)
{
	memset(info, 0, sizeof(*info));
	info->argsz = sizeof(*info);
	info->index = index;
	return ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, info);
}

/*
 * The PCI device VFIO's selftests run on, named by VFIO_SELFTESTS_BDF as
 * libvfio's programs take it: its cdev (vfio_pci_get_cdev_path(), which
 * fails the test if the device has none) and its group in @d; -1 if the
 * variable is not set.
 */
static inline int find_pci_device(struct vfio_dut *d)
{
	const char *bdf = getenv("VFIO_SELFTESTS_BDF");
	const char *cdev;

	if (!bdf)
		return -1;
	cdev = vfio_pci_get_cdev_path(bdf);
	snprintf(d->cdev, sizeof(d->cdev), "%s", cdev);
	free((void *)cdev);
	snprintf(d->group, sizeof(d->group), "/dev/vfio/%d",
		 sysfs_iommu_group_get(bdf));
	return 0;
}

/*
 * Set @d up for the device of @driver, an emulated one if @emulated, not
 * yet open nor bound, and find it: the edu device with find_pci_device(),
 * a sample's with find_vfio_device().
 */
static inline int dut_init(struct vfio_dut *d, const char *driver,
			   bool emulated)
{
	d->emulated = emulated;
	d->edu = !strcmp(driver, EDU_DRIVER);
	d->fd = -1;
	d->iommu = NULL;
	d->iommufd = -1;
	return d->edu ? find_pci_device(d) : find_vfio_device(driver, d);
}

/* What makes the device of @d exist, for a test that did not find it */
static inline const char *dut_needs(const struct vfio_dut *d)
{
	return d->edu ?
	       "QEMU's edu device on vfio-pci, its address in VFIO_SELFTESTS_BDF" :
	       "CONFIG_SAMPLE_VFIO_DEVICES and vfio_sample_devices.count=1";
}

/* Give @d a new iommufd with an IOAS (libvfio's iommu_init()) */
static inline void dut_open_iommufd(struct vfio_dut *d)
{
	d->iommu = iommu_init(MODE_IOMMUFD);
	d->iommufd = d->iommu->iommufd;
}

/* Close the iommufd of @d, if it has one (iommu_cleanup()) */
static inline void dut_close_iommufd(struct vfio_dut *d)
{
	if (!d->iommu)
		return;
	iommu_cleanup(d->iommu);
	d->iommu = NULL;
	d->iommufd = -1;
}

/*
 * Map @len bytes of @mem at @iova in IOAS @ioas_id of the iommufd of @d,
 * or unmap them: libvfio's __iommu_map() and __iommu_unmap(), returning
 * what ioctl() returns. What an unmap took away goes to @unmapped.
 */
static inline int dut_map(const struct vfio_dut *d, __u32 ioas_id,
			  void *mem, size_t len, __u64 iova)
{
	struct dma_region region = { .vaddr = mem, .iova = iova, .size = len };
	struct iommu ioas;

	return __iommu_map(ioas_iommu(d->iommu, ioas_id, &ioas), &region) ?
	       -1 : 0;
}

static inline int dut_unmap(const struct vfio_dut *d, __u32 ioas_id,
			    size_t len, __u64 iova, __u64 *unmapped)
{
	struct dma_region region = { .iova = iova, .size = len };
	struct iommu ioas;
	u64 done;

	INIT_LIST_HEAD(&region.link);	/* __iommu_unmap() unlinks it */
	if (__iommu_unmap(ioas_iommu(d->iommu, ioas_id, &ioas), &region,
			  &done))
		return -1;
	*unmapped = done;
	return 0;
}

/*
 * Make the edu device behind the bound vfio-pci fd @fd copy @len bytes
 * (at most a page) between offset @off of its buffer and @iova, towards
 * the IOVA if @to_bus: turn on its memory space and bus mastering in its
 * command register, map BAR 0, program the DMA and wait until it is done.
 * The BAR is unmapped again, so that closing @fd closes the device. 0 or
 * -1 with errno set (ETIMEDOUT: the DMA never finished).
 */
static inline int edu_dma(int fd, __u64 iova, size_t off, size_t len,
			  bool to_bus)
{
	struct vfio_region_info cfg, bar;
	__u64 *regs;
	__u16 cmd;
	double end;
	int ret = 0;

	if (vfio_region_info(fd, VFIO_PCI_CONFIG_REGION_INDEX, &cfg) ||
	    vfio_region_info(fd, VFIO_PCI_BAR0_REGION_INDEX, &bar))
		return -1;
	if (!(bar.flags & VFIO_REGION_INFO_FLAG_MMAP)) {
		errno = ENODEV;
		return -1;
	}
	if (pread(fd, &cmd, sizeof(cmd), cfg.offset + PCI_COMMAND) !=
	    sizeof(cmd))
		return -1;
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	if (pwrite(fd, &cmd, sizeof(cmd), cfg.offset + PCI_COMMAND) !=
	    sizeof(cmd))
		return -1;
	regs = mmap(NULL, bar.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		    bar.offset);
	if (regs == MAP_FAILED)
		return -1;

	bar_write(regs, EDU_DMA_SRC, to_bus ? EDU_BUF + off : iova);
	bar_write(regs, EDU_DMA_DST, to_bus ? iova : EDU_BUF + off);
	bar_write(regs, EDU_DMA_CNT, len);
	bar_write(regs, EDU_DMA_CMD,
		  EDU_DMA_RUN | (to_bus ? EDU_DMA_TO_BUS : 0));
	end = now() + EDU_DMA_TIMEOUT;
	while (bar_read(regs, EDU_DMA_CMD) & EDU_DMA_RUN) {
		if (now() > end) {
			errno = ETIMEDOUT;
			ret = -1;
			break;
		}
		usleep(1000);
	}
	munmap(regs, bar.size);
	return ret;
}

/*
 * The edu device copies @len bytes from @src to @dst, two IOVAs, through
 * offset 0 of its buffer: what is at @src reaches @dst only if the IOMMU
 * let the device read the one and write the other.
 */
static inline int edu_copy(int fd, __u64 src, __u64 dst, size_t len)
{
	if (edu_dma(fd, src, 0, len, false))
		return -1;
	return edu_dma(fd, dst, 0, len, true);
}

#ifdef __KSELFTEST_HARNESS_H

/* Helpers that assert */

#define ASSERT_ERRNO(expected_errno, cmd)		\
	({						\
		ASSERT_EQ(-1, cmd);			\
		ASSERT_EQ(expected_errno, errno);	\
	})

static inline __u32 new_ioas(struct __test_metadata *_metadata, int iommufd)
{
	__u32 ioas_id;

	ASSERT_EQ(0, ioas_alloc(iommufd, &ioas_id));
	return ioas_id;
}

/*
 * Whether anything uses the IOAS's page table: an IOMMU domain or an
 * iommufd_access raises its IOVA alignment above 1. With no HWPT made by
 * IOMMU_HWPT_ALLOC on it, this is whether a device is attached.
 */
static inline bool ioas_attached(struct __test_metadata *_metadata,
				 int iommufd, __u32 ioas_id)
{
	__u64 alignment;

	ASSERT_EQ(0, ioas_iova_alignment(iommufd, ioas_id, &alignment));
	return alignment > 1;
}

/* BIND the device to its iommufd; it is an object there while bound */
static inline void dut_bind(struct __test_metadata *_metadata,
			    struct vfio_dut *d)
{
	ASSERT_EQ(0, vfio_bind(d->fd, d->iommufd, &d->devid));
	ASSERT_ERRNO(EBUSY, iommufd_destroy(d->iommufd, d->devid));
}

/* @len bytes of user memory to map into an IOAS, filled with a pattern */
static inline unsigned char *guest_mem(struct __test_metadata *_metadata,
				       size_t len)
{
	void *mem;

	mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	fill(mem, len, 1);
	return mem;
}

/*
 * An emulated device reaches @mem, @len bytes (at least a page) mapped at
 * TEST_IOVA, through @region: it reads what is at the end of the first
 * page, and its writes land in the last page.
 */
static inline void check_dma(struct __test_metadata *_metadata, int fd,
			     int region, unsigned char *mem, size_t len)
{
	size_t rd = page_size() - 2 * DMA_LEN;
	size_t wr = len - page_size() + DMA_LEN;
	unsigned char buf[DMA_LEN];

	ASSERT_EQ(DMA_LEN, dma_read(fd, region, TEST_IOVA + rd, buf, DMA_LEN));
	ASSERT_EQ(0, memcmp(mem + rd, buf, DMA_LEN));
	fill(buf, DMA_LEN, 2 + region);
	ASSERT_EQ(DMA_LEN, dma_write(fd, region, TEST_IOVA + wr, buf, DMA_LEN));
	ASSERT_EQ(0, memcmp(mem + wr, buf, DMA_LEN));
}

/*
 * The edu device reaches @mem, @len bytes (at least a page) mapped at
 * TEST_IOVA: it copies what is at the end of the first page into the last
 * page.
 */
static inline void check_edu_dma(struct __test_metadata *_metadata, int fd,
				 unsigned char *mem, size_t len)
{
	size_t rd = page_size() - 2 * DMA_LEN;
	size_t wr = len - page_size() + DMA_LEN;

	ASSERT_NE(0, memcmp(mem + rd, mem + wr, DMA_LEN));
	ASSERT_EQ(0, edu_copy(fd, TEST_IOVA + rd, TEST_IOVA + wr, DMA_LEN))
		TH_LOG("edu DMA: %s", strerror(errno));
	ASSERT_EQ(0, memcmp(mem + rd, mem + wr, DMA_LEN));
	fill(mem + wr, DMA_LEN, 7);
}

/*
 * The device reaches @len bytes of @mem mapped at TEST_IOVA while attached
 * as @pt_id: the edu device copies within them, a mock device's IOMMU
 * domain maps them, an emulated device reads and writes them through both
 * regions.
 */
static inline void check_device_sees(struct __test_metadata *_metadata,
				     struct vfio_dut *d, __u32 pt_id,
				     unsigned char *mem, size_t len)
{
	if (d->edu) {
		check_edu_dma(_metadata, d->fd, mem, len);
		return;
	}
	if (!d->emulated) {
		ASSERT_EQ(0, md_check_map(d->iommufd, pt_id, TEST_IOVA, mem,
					  len));
		return;
	}
	check_dma(_metadata, d->fd, DMA_REGION_RW, mem, len);
	check_dma(_metadata, d->fd, DMA_REGION_PIN, mem, len);
}

/* The kernel log */

/* /dev/kmsg, positioned after the last record the kernel has logged */
static inline int kmsg_open(struct __test_metadata *_metadata)
{
	int fd;

	fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, fd) TH_LOG("cannot open /dev/kmsg");
	ASSERT_LE(0, lseek(fd, 0, SEEK_END));
	return fd;
}

/*
 * The message of the next record of @kmsg, read into @rec (@size bytes),
 * without its header and newline: a record is
 * "<prio>,<seq>,<time>,<flags>;<message>\n". Records the kernel overwrote
 * before they were read (EPIPE) are passed over. NULL when there is no
 * record yet (errno EAGAIN) or on an error (errno says which).
 */
static inline char *kmsg_next(int kmsg, char *rec, size_t size)
{
	char *msg, *end;
	ssize_t len;

	errno = 0;
	do
		len = read(kmsg, rec, size - 1);
	while (len < 0 && errno == EPIPE);
	if (len <= 0)
		return NULL;
	rec[len] = '\0';
	msg = strchr(rec, ';');
	msg = msg ? msg + 1 : rec;
	end = strchr(msg, '\n');
	if (end)
		*end = '\0';
	return msg;
}

/*
 * Log each record of @kmsg, up to the last one, that reports a bug: a
 * WARNING, BUG, Oops, lockdep, hung task, KASAN, UBSAN or kmemleak report;
 * return how many did.
 */
static inline int kmsg_reports(struct __test_metadata *_metadata, int kmsg)
{
	static const char * const kernel_reports[] = {
		"WARNING:", "BUG:", "kernel BUG at",
		"possible recursive locking", "circular locking", "INFO: ",
		"Oops", "KASAN", "UBSAN", "suspected memory leak",
	};
	char rec[8192], *msg;
	int found = 0;
	size_t i;

	while ((msg = kmsg_next(kmsg, rec, sizeof(rec)))) {
		for (i = 0; i < ARRAY_SIZE(kernel_reports); i++) {
			if (!strstr(msg, kernel_reports[i]))
				continue;
			if (found++ < 20)
				TH_LOG("kernel: %s", msg);
			break;
		}
	}
	if (errno)	/* EAGAIN: no more records */
		EXPECT_EQ(EAGAIN, errno);
	return found;
}

#endif /* __KSELFTEST_HARNESS_H */

#endif /* __SELFTESTS_VFIO_CDEV_UTIL_H */
