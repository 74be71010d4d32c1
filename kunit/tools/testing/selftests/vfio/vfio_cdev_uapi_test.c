// SPDX-License-Identifier: GPL-2.0-only
/*
 * uAPI conformance test of the VFIO device cdev, /dev/vfio/devices/vfioN,
 * driven the way QEMU's iommufd backend drives it.
 *
 * Each test is named after what it checks: the uAPI (BIND, ATTACH, DETACH
 * and close() of the device fd) and the security properties (an unbound fd
 * can only BIND, ids of another iommufd are unknown, no DMA after DETACH, the
 * cdev and the group exclude each other). Every test checks the errno, then
 * the resulting state through iommufd's own ioctls: IOMMU_DESTROY giving 0,
 * EBUSY or ENOENT, the IOVA alignment IOMMU_IOAS_IOVA_RANGES reports,
 * IOMMU_IOAS_MAP and UNMAP, for the samples' physical devices
 * IOMMU_TEST_OP_MD_CHECK_MAP on the mock IOMMU domain they are attached to,
 * and for vfio-pci the device's own DMA. The PASID tests (fixture vfio_pasid)
 * run on the physical sample, whose mock device has PASIDs, with ATTACH and
 * DETACH's VFIO_DEVICE_ATTACH_PASID and VFIO_DEVICE_DETACH_PASID; a device
 * without the PASID callbacks refuses those flags.
 *
 * The devices under test are those of the VFIO sample drivers, found through
 * the driver of /sys/class/vfio-dev/vfioN/device:
 *   vfio-sample-phys  physical devices on iommufd's mock IOMMU
 *   vfio-sample-emul  emulated IOMMU (iommufd_access)
 * Reading or writing an emulated device's fd makes it do DMA at the file
 * offset (region << 40) | iova, up to a page at a time: region 0 through
 * vfio_dma_rw(), region 1 through vfio_pin_pages() of the page holding the
 * range. A device that is missing skips every test of its variant.
 *
 * On an x86_64 guest of QEMU with a virtual IOMMU (intel-iommu or
 * virtio-iommu), the variant vfio_pci and the fixture of the same name run
 * on QEMU's edu test device bound to vfio-pci, which VFIO_SELFTESTS_BDF
 * names as for libvfio's tests in this folder: its DMA, programmed through
 * its BAR, must land in the user memory the IOAS maps while attached, in
 * the new IOAS's after a replace, and nowhere after DETACH, where the
 * IOMMU reports the fault it caused. Elsewhere, exclude them with
 * "-V vfio_pci -F vfio_pci" rather than count their skips.
 *
 * Needs CONFIG_VFIO_DEVICE_CDEV, CONFIG_VFIO_GROUP, CONFIG_IOMMUFD_TEST and
 * CONFIG_SAMPLE_VFIO_DEVICES built in with the VFIO samples, a kernel
 * booted with vfio_sample_devices.count=1 (and vfio_pci.ids=1234:11e8
 * on QEMU with "-device edu") and devtmpfs on /dev. As root:
 *
 *	./vfio_cdev_uapi_test
 */
#include "../kselftest_harness.h"
#include "vfio_cdev_util.h"

/*
 * The argsz each call needs at least: up to the end of its last field in
 * 6.12 (out_devid, pt_id, flags; each a __u32)
 */
#define BIND_MINSZ \
	(offsetof(struct vfio_device_bind_iommufd, out_devid) + sizeof(__u32))
#define ATTACH_MINSZ \
	(offsetof(struct vfio_device_attach_iommufd_pt, pt_id) + sizeof(__u32))
#define DETACH_MINSZ \
	(offsetof(struct vfio_device_detach_iommufd_pt, flags) + sizeof(__u32))

/* Pages of user memory mapped at TEST_IOVA */
#define GUEST_PAGES		2
/*
 * A flag no kernel defines: later kernels define BIND, ATTACH and DETACH
 * flags from bit 0 up (VFIO_DEVICE_BIND_FLAG_TOKEN,
 * VFIO_DEVICE_ATTACH_PASID), so an unknown flag is taken from the top.
 */
#define UNKNOWN_FLAG		0x80000000U	/* bit 31 */
/*
 * Bytes of an edu DMA that must fault: QEMU's IOMMUs refuse it 4 bytes at a
 * time, the kernel logs each refusal, and at most 10 in 5 s.
 */
#define FAULT_LEN		8
/* An object id no test allocates (ids are 31 bit, 0 is never used) */
#define UNKNOWN_ID		0x7fffffffU

/* Probe for migration support: ENOTTY from a bound sample device */
static int vfio_feature_probe(int fd)
{
	struct vfio_device_feature feature = {
		.argsz = sizeof(feature),
		.flags = VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_GET |
			 VFIO_DEVICE_FEATURE_MIGRATION,
	};

	return ioctl(fd, VFIO_DEVICE_FEATURE, &feature);
}

/*
 * A mock device of iommufd's selftest, bound to @iommufd and attached to
 * @ioas_id; destroying @stdev_id removes it. Gives an HWPT or a device id to
 * tests of emulated devices, and objects to another iommufd.
 */
static int mock_domain(int iommufd, __u32 ioas_id, __u32 *stdev_id,
		       __u32 *hwpt_id, __u32 *idev_id)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_MOCK_DOMAIN,
		.id = ioas_id,
	};
	int ret;

	ret = ioctl(iommufd, IOMMU_TEST_CMD, &cmd);
	if (ret)
		return ret;
	*stdev_id = cmd.mock_domain.out_stdev_id;
	*hwpt_id = cmd.mock_domain.out_hwpt_id;
	*idev_id = cmd.mock_domain.out_idev_id;
	return 0;
}

/* The fixture's setup and teardown */

static void dut_setup(struct __test_metadata *_metadata, struct vfio_dut *d,
		      const char *driver, bool emulated)
{
	if (dut_init(d, driver, emulated))
		SKIP(return, "no VFIO device of driver %s: needs %s", driver,
		     dut_needs(d));
	dut_open_iommufd(d);
	d->fd = open(d->cdev, O_RDWR);
	ASSERT_LE(0, d->fd) TH_LOG("cannot open %s", d->cdev);
}

static void dut_teardown(struct vfio_dut *d)
{
	if (d->fd >= 0)
		close(d->fd);
	dut_close_iommufd(d);
}

/* Close the device fd, which unbinds it */
static void dut_close(struct __test_metadata *_metadata, struct vfio_dut *d)
{
	ASSERT_EQ(0, close(d->fd));
	d->fd = -1;
}

/* Close the device fd if it is open, and open the cdev again */
static void dut_reopen(struct __test_metadata *_metadata, struct vfio_dut *d)
{
	if (d->fd >= 0)
		dut_close(_metadata, d);
	d->fd = open(d->cdev, O_RDWR);
	ASSERT_LE(0, d->fd);
}

/* Helpers that assert */

/*
 * ATTACH to @ioas_id. A physical device gets the id of the HWPT made for it,
 * an emulated one the IOAS id back; both tables are then busy.
 */
static __u32 dut_attach_ioas(struct __test_metadata *_metadata,
			     struct vfio_dut *d, __u32 ioas_id)
{
	__u32 pt_id = ioas_id;

	ASSERT_EQ(0, vfio_attach(d->fd, &pt_id));
	ASSERT_EQ(d->emulated, pt_id == ioas_id);
	ASSERT_TRUE(ioas_attached(_metadata, d->iommufd, ioas_id));
	ASSERT_ERRNO(EBUSY, iommufd_destroy(d->iommufd, ioas_id));
	ASSERT_ERRNO(EBUSY, iommufd_destroy(d->iommufd, pt_id));
	return pt_id;
}

/*
 * DETACH from @ioas_id, attached as @pt_id: the IOAS is free and goes, and
 * @pt_id is gone (the IOAS itself, or the HWPT made for the device).
 */
static void dut_detach_ioas(struct __test_metadata *_metadata,
			    struct vfio_dut *d, __u32 ioas_id, __u32 pt_id)
{
	ASSERT_EQ(0, vfio_detach(d->fd));
	ASSERT_FALSE(ioas_attached(_metadata, d->iommufd, ioas_id));
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, ioas_id));
	ASSERT_ERRNO(ENOENT, iommufd_destroy(d->iommufd, pt_id));
}

/* The bound device attaches to a new IOAS and detaches as it should */
static void check_attach_detach(struct __test_metadata *_metadata,
				struct vfio_dut *d)
{
	__u32 ioas_id = new_ioas(_metadata, d->iommufd);
	__u32 pt_id = dut_attach_ioas(_metadata, d, ioas_id);

	dut_detach_ioas(_metadata, d, ioas_id, pt_id);
}

/*
 * BIND, then ATTACH to a new IOAS that maps @len bytes of user memory at
 * TEST_IOVA: the memory, filled with a pattern; the IOAS id in @ioas_id
 */
static unsigned char *dut_attach_mapped(struct __test_metadata *_metadata,
					struct vfio_dut *d, size_t len,
					__u32 *ioas_id)
{
	unsigned char *mem = guest_mem(_metadata, len);

	dut_bind(_metadata, d);
	*ioas_id = new_ioas(_metadata, d->iommufd);
	ASSERT_EQ(0, dut_map(d, *ioas_id, mem, len, TEST_IOVA));
	dut_attach_ioas(_metadata, d, *ioas_id);
	return mem;
}

/* An argsz and flags that ATTACH or DETACH must refuse */
struct bad_args {
	__u32 argsz;
	__u32 flags;
};

/*
 * Each ATTACH of @bad fails with EINVAL: the bound device attaches nothing
 * and, once attached, replaces nothing
 */
static void check_attach_refused(struct __test_metadata *_metadata,
				 struct vfio_dut *d,
				 const struct bad_args *bad, size_t n)
{
	__u32 ioas_a, ioas_b, pt_a, pt_id;
	size_t i;

	dut_bind(_metadata, d);
	ioas_a = new_ioas(_metadata, d->iommufd);
	ioas_b = new_ioas(_metadata, d->iommufd);

	for (i = 0; i < n; i++) {
		pt_id = ioas_a;
		ASSERT_ERRNO(EINVAL, __vfio_attach(d->fd, bad[i].argsz,
						   bad[i].flags, &pt_id));
	}
	ASSERT_FALSE(ioas_attached(_metadata, d->iommufd, ioas_a));

	pt_a = dut_attach_ioas(_metadata, d, ioas_a);
	for (i = 0; i < n; i++) {
		pt_id = ioas_b;
		ASSERT_ERRNO(EINVAL, __vfio_attach(d->fd, bad[i].argsz,
						   bad[i].flags, &pt_id));
	}
	ASSERT_FALSE(ioas_attached(_metadata, d->iommufd, ioas_b));
	ASSERT_ERRNO(EBUSY, iommufd_destroy(d->iommufd, pt_a));
	dut_detach_ioas(_metadata, d, ioas_a, pt_a);
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, ioas_b));
}

/* Each DETACH of @bad fails with EINVAL and the device stays attached */
static void check_detach_refused(struct __test_metadata *_metadata,
				 struct vfio_dut *d,
				 const struct bad_args *bad, size_t n)
{
	__u32 ioas_id, pt_id;
	size_t i;

	dut_bind(_metadata, d);
	ioas_id = new_ioas(_metadata, d->iommufd);
	pt_id = dut_attach_ioas(_metadata, d, ioas_id);

	for (i = 0; i < n; i++)
		ASSERT_ERRNO(EINVAL, __vfio_detach(d->fd, bad[i].argsz,
						   bad[i].flags));
	ASSERT_TRUE(ioas_attached(_metadata, d->iommufd, ioas_id));
	ASSERT_ERRNO(EBUSY, iommufd_destroy(d->iommufd, pt_id));
	dut_detach_ioas(_metadata, d, ioas_id, pt_id);
}

/* Every device ioctl but BIND fails on an unbound fd */
static void check_ioctls_refused(struct __test_metadata *_metadata, int fd)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct vfio_region_info region = { .argsz = sizeof(region) };
	struct vfio_irq_info irq = { .argsz = sizeof(irq) };
	__u32 pt_id = 1;

	ASSERT_ERRNO(EINVAL, vfio_attach(fd, &pt_id));
	ASSERT_ERRNO(EINVAL, vfio_detach(fd));
	ASSERT_ERRNO(EINVAL, vfio_feature_probe(fd));
	ASSERT_ERRNO(EINVAL, ioctl(fd, VFIO_DEVICE_GET_INFO, &info));
	ASSERT_ERRNO(EINVAL, ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, &region));
	ASSERT_ERRNO(EINVAL, ioctl(fd, VFIO_DEVICE_GET_IRQ_INFO, &irq));
	ASSERT_ERRNO(EINVAL, ioctl(fd, VFIO_DEVICE_RESET));
}

/* Nor can an unbound fd read, write or mmap */
static void check_fd_refused(struct __test_metadata *_metadata, int fd)
{
	char buf[DMA_LEN] = {};

	check_ioctls_refused(_metadata, fd);
	ASSERT_ERRNO(EINVAL, dma_read(fd, DMA_REGION_RW, TEST_IOVA, buf,
				      sizeof(buf)));
	ASSERT_ERRNO(EINVAL, dma_write(fd, DMA_REGION_RW, TEST_IOVA, buf,
				       sizeof(buf)));
	ASSERT_EQ(MAP_FAILED, mmap(NULL, page_size(), PROT_READ, MAP_SHARED,
				   fd, 0));
	ASSERT_EQ(EINVAL, errno);
}

/*
 * ATTACH arguments on a page of their own with protection @prot: read-only
 * lets the kernel read them but not write pt_id back.
 */
static struct vfio_device_attach_iommufd_pt *
attach_args(struct __test_metadata *_metadata, __u32 pt_id, int prot)
{
	struct vfio_device_attach_iommufd_pt *args;

	args = mmap(NULL, page_size(), PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, args);
	args->argsz = sizeof(*args);
	args->pt_id = pt_id;
	ASSERT_EQ(0, mprotect(args, page_size(), prot));
	return args;
}

/*
 * ATTACH arguments whose pt_id lies in an unmapped page: argsz and flags end
 * one page, the next is unmapped. Not a PROT_NONE page: UML's uaccess of
 * 6.12 takes a PROT_NONE PTE as present and reads through it.
 */
static struct vfio_device_attach_iommufd_pt *
attach_args_unmapped(struct __test_metadata *_metadata)
{
	size_t head = offsetof(struct vfio_device_attach_iommufd_pt, pt_id);
	struct vfio_device_attach_iommufd_pt *args;
	char *pages;

	pages = mmap(NULL, 2 * page_size(), PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, pages);
	ASSERT_EQ(0, munmap(pages + page_size(), page_size()));
	args = (void *)(pages + page_size() - head);
	args->argsz = sizeof(*args);
	args->flags = 0;
	return args;
}

/* An emulated device can neither read nor write @mem through @region */
static void check_no_dma(struct __test_metadata *_metadata, int fd,
			 int region, unsigned char *mem)
{
	unsigned char before[DMA_LEN], buf[DMA_LEN];
	size_t off = DMA_LEN;

	memcpy(before, mem + off, DMA_LEN);
	ASSERT_ERRNO(ENOENT, dma_read(fd, region, TEST_IOVA + off, buf,
				      DMA_LEN));
	fill(buf, DMA_LEN, 5);
	ASSERT_ERRNO(ENOENT, dma_write(fd, region, TEST_IOVA + off, buf,
				       DMA_LEN));
	ASSERT_EQ(0, memcmp(before, mem + off, DMA_LEN));
}

/* PASIDs of the tests, and the one whose every second attach the mock fails */
#define PASID		1
#define PASID_2		2
#define PASID_FAILS	1024
/* The device's RID, where a PASID is asked for (IOMMU_NO_PASID) */
#define RID		0

/* Every device, every rule that applies to all of them */

FIXTURE(vfio_cdev)
{
	struct vfio_dut d;
};

FIXTURE_VARIANT(vfio_cdev)
{
	const char *driver;
	bool emulated;
};

FIXTURE_VARIANT_ADD(vfio_cdev, c_physical)
{
	.driver = "vfio-sample-phys",
	.emulated = false,
};

FIXTURE_VARIANT_ADD(vfio_cdev, c_emulated)
{
	.driver = "vfio-sample-emul",
	.emulated = true,
};

FIXTURE_VARIANT_ADD(vfio_cdev, vfio_pci)
{
	.driver = EDU_DRIVER,
	.emulated = false,
};

FIXTURE_SETUP(vfio_cdev)
{
	dut_setup(_metadata, &self->d, variant->driver, variant->emulated);
}

FIXTURE_TEARDOWN(vfio_cdev)
{
	dut_teardown(&self->d);
}

/* BIND with argsz short of out_devid fails and binds nothing */
TEST_F(vfio_cdev, bind_short_argsz)
{
	struct vfio_dut *d = &self->d;

	ASSERT_ERRNO(EINVAL, __vfio_bind(d->fd, BIND_MINSZ - 1, 0, d->iommufd,
					 NULL));
	ASSERT_ERRNO(EINVAL, __vfio_bind(d->fd, 0, 0, d->iommufd, NULL));
	check_ioctls_refused(_metadata, d->fd);
	dut_bind(_metadata, d);
	check_attach_detach(_metadata, d);
}

/* BIND with flags fails and binds nothing */
TEST_F(vfio_cdev, bind_unknown_flags)
{
	__u32 argsz = sizeof(struct vfio_device_bind_iommufd);
	struct vfio_dut *d = &self->d;

	ASSERT_ERRNO(EINVAL, __vfio_bind(d->fd, argsz, UNKNOWN_FLAG,
					 d->iommufd, NULL));
	check_ioctls_refused(_metadata, d->fd);
	dut_bind(_metadata, d);
	check_attach_detach(_metadata, d);
}

/* BIND with a negative iommufd fails and binds nothing */
TEST_F(vfio_cdev, bind_negative_fd)
{
	struct vfio_dut *d = &self->d;

	ASSERT_ERRNO(EINVAL, vfio_bind(d->fd, -1, NULL));
	ASSERT_ERRNO(EINVAL, vfio_bind(d->fd, INT_MIN, NULL));
	check_ioctls_refused(_metadata, d->fd);
	dut_bind(_metadata, d);
	check_attach_detach(_metadata, d);
}

/* BIND to an fd that is not an iommufd fails and binds nothing */
TEST_F(vfio_cdev, bind_not_iommufd)
{
	struct vfio_dut *d = &self->d;
	int pipefd[2], null;

	ASSERT_EQ(0, pipe(pipefd));
	null = open("/dev/null", O_RDWR);
	ASSERT_LE(0, null);

	ASSERT_ERRNO(EBADFD, vfio_bind(d->fd, pipefd[0], NULL));
	ASSERT_ERRNO(EBADFD, vfio_bind(d->fd, pipefd[1], NULL));
	ASSERT_ERRNO(EBADFD, vfio_bind(d->fd, null, NULL));
	ASSERT_ERRNO(EBADFD, vfio_bind(d->fd, d->fd, NULL));
	check_ioctls_refused(_metadata, d->fd);
	dut_bind(_metadata, d);
	check_attach_detach(_metadata, d);
}

/* BIND to a closed fd fails and binds nothing */
TEST_F(vfio_cdev, bind_closed_fd)
{
	struct vfio_dut *d = &self->d;
	int closed;

	closed = dup(d->iommufd);
	ASSERT_LE(0, closed);
	ASSERT_EQ(0, close(closed));

	ASSERT_ERRNO(EBADF, vfio_bind(d->fd, closed, NULL));
	check_ioctls_refused(_metadata, d->fd);
	dut_bind(_metadata, d);
	check_attach_detach(_metadata, d);
}

/* A second BIND on a bound fd fails, to any iommufd */
TEST_F(vfio_cdev, bind_twice)
{
	struct iommu *other = iommu_init(MODE_IOMMUFD);
	struct vfio_dut *d = &self->d;

	dut_bind(_metadata, d);

	ASSERT_ERRNO(EINVAL, vfio_bind(d->fd, d->iommufd, NULL));
	ASSERT_ERRNO(EINVAL, vfio_bind(d->fd, other->iommufd, NULL));
	/*
	 * Still bound once, to the first. Both iommufds are new, so a device
	 * bound to the other would have the same id there.
	 */
	ASSERT_ERRNO(EBUSY, iommufd_destroy(d->iommufd, d->devid));
	ASSERT_ERRNO(ENOENT, iommufd_destroy(other->iommufd, d->devid));
	check_attach_detach(_metadata, d);
	iommu_cleanup(other);
}

/* While one open of the device is bound, BIND on another one fails */
TEST_F(vfio_cdev, second_open_bind)
{
	struct iommu *other = iommu_init(MODE_IOMMUFD);
	struct vfio_dut *d = &self->d;
	__u32 first_devid;
	int fd2;

	dut_bind(_metadata, d);
	first_devid = d->devid;

	/* open() itself succeeds: the cdev is single-bind */
	fd2 = open(d->cdev, O_RDWR);
	ASSERT_LE(0, fd2);
	ASSERT_ERRNO(EINVAL, vfio_bind(fd2, d->iommufd, NULL));
	ASSERT_ERRNO(EINVAL, vfio_bind(fd2, other->iommufd, NULL));
	check_ioctls_refused(_metadata, fd2);
	/* The first one is untouched */
	ASSERT_ERRNO(EBUSY, iommufd_destroy(d->iommufd, first_devid));
	check_attach_detach(_metadata, d);

	/* Once it is closed, the second open binds */
	ASSERT_EQ(0, close(d->fd));
	d->fd = fd2;
	ASSERT_ERRNO(ENOENT, iommufd_destroy(d->iommufd, first_devid));
	dut_bind(_metadata, d);
	check_attach_detach(_metadata, d);
	iommu_cleanup(other);
}

/* Before BIND, every device ioctl but BIND fails */
TEST_F(vfio_cdev, ioctl_before_bind)
{
	struct vfio_dut *d = &self->d;

	check_ioctls_refused(_metadata, d->fd);
	/* A failed BIND does not change that */
	ASSERT_ERRNO(EINVAL, vfio_bind(d->fd, -1, NULL));
	check_ioctls_refused(_metadata, d->fd);

	/* Once bound, the same ioctls reach the device */
	dut_bind(_metadata, d);
	ASSERT_EQ(0, vfio_detach(d->fd));
	ASSERT_ERRNO(ENOTTY, vfio_feature_probe(d->fd));
	check_attach_detach(_metadata, d);
}

/* ATTACH with flags fails and neither attaches nor replaces */
TEST_F(vfio_cdev, attach_unknown_flags)
{
	__u32 argsz = sizeof(struct vfio_device_attach_iommufd_pt);
	const struct bad_args bad[] = { { argsz, UNKNOWN_FLAG } };

	check_attach_refused(_metadata, &self->d, bad, ARRAY_SIZE(bad));
}

/* ATTACH with argsz short of pt_id fails, attaches and replaces nothing */
TEST_F(vfio_cdev, attach_short_argsz)
{
	const struct bad_args bad[] = { { ATTACH_MINSZ - 1, 0 }, { 0, 0 } };

	check_attach_refused(_metadata, &self->d, bad, ARRAY_SIZE(bad));
}

/* DETACH with flags fails and the device stays attached */
TEST_F(vfio_cdev, detach_unknown_flags)
{
	__u32 argsz = sizeof(struct vfio_device_detach_iommufd_pt);
	const struct bad_args bad[] = { { argsz, UNKNOWN_FLAG } };

	check_detach_refused(_metadata, &self->d, bad, ARRAY_SIZE(bad));
}

/* DETACH with argsz short of flags fails and the device stays attached */
TEST_F(vfio_cdev, detach_short_argsz)
{
	const struct bad_args bad[] = { { DETACH_MINSZ - 1, 0 }, { 0, 0 } };

	check_detach_refused(_metadata, &self->d, bad, ARRAY_SIZE(bad));
}

/*
 * ATTACH to an IOAS: a physical device gets the id of an HWPT made for
 * it, which goes with the DETACH; an emulated one gets the IOAS id back
 */
TEST_F(vfio_cdev, attach_ioas)
{
	struct vfio_dut *d = &self->d;
	__u32 ioas_id, pt_id;
	__u64 alignment;

	dut_bind(_metadata, d);
	ioas_id = new_ioas(_metadata, d->iommufd);
	pt_id = ioas_id;
	ASSERT_EQ(0, vfio_attach(d->fd, &pt_id));
	ASSERT_EQ(d->emulated, pt_id == ioas_id);
	/* A physical device's pt_id names an HWPT, not an IOAS */
	ASSERT_EQ(d->emulated ? 0 : -1,
		  ioas_iova_alignment(d->iommufd, pt_id, &alignment));
	ASSERT_ERRNO(EBUSY, iommufd_destroy(d->iommufd, pt_id));
	ASSERT_ERRNO(EBUSY, iommufd_destroy(d->iommufd, ioas_id));
	dut_detach_ioas(_metadata, d, ioas_id, pt_id);
	/* And it attaches again */
	check_attach_detach(_metadata, d);
}

/*
 * ATTACH to an HWPT from IOMMU_HWPT_ALLOC: a physical device keeps its
 * id, an emulated one takes only IOAS ids (ENOENT)
 */
TEST_F(vfio_cdev, attach_hwpt)
{
	struct vfio_dut *d = &self->d;
	__u32 ioas_id, hwpt_id, pt_id, stdev_id, mock_hwpt, mock_idev;

	dut_bind(_metadata, d);
	ioas_id = new_ioas(_metadata, d->iommufd);

	if (!d->emulated) {
		ASSERT_EQ(0, hwpt_alloc(d->iommufd, d->devid, ioas_id,
					&hwpt_id));
		pt_id = hwpt_id;
		ASSERT_EQ(0, vfio_attach(d->fd, &pt_id));
		ASSERT_EQ(hwpt_id, pt_id);
		ASSERT_ERRNO(EBUSY, iommufd_destroy(d->iommufd, hwpt_id));
		ASSERT_EQ(0, vfio_detach(d->fd));
		/* Made by the user, the HWPT stays after DETACH, unused */
		ASSERT_EQ(0, iommufd_destroy(d->iommufd, hwpt_id));
		ASSERT_EQ(0, iommufd_destroy(d->iommufd, ioas_id));
		return;
	}

	/* An HWPT needs a physical device: a mock one of the selftest */
	ASSERT_EQ(0, mock_domain(d->iommufd, ioas_id, &stdev_id, &mock_hwpt,
				 &mock_idev));
	ASSERT_EQ(0, hwpt_alloc(d->iommufd, mock_idev, ioas_id, &hwpt_id));
	pt_id = hwpt_id;
	ASSERT_ERRNO(ENOENT, vfio_attach(d->fd, &pt_id));
	/* The device holds neither the HWPT nor its IOAS */
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, hwpt_id));
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, stdev_id));
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, ioas_id));
	check_attach_detach(_metadata, d);
}

/* ATTACH to an id that names nothing fails and attaches nothing */
TEST_F(vfio_cdev, attach_unknown_id)
{
	const __u32 ids[] = { 0, UNKNOWN_ID };
	struct vfio_dut *d = &self->d;
	__u32 pt_id;
	size_t i;

	dut_bind(_metadata, d);
	for (i = 0; i < ARRAY_SIZE(ids); i++) {
		ASSERT_ERRNO(ENOENT, iommufd_destroy(d->iommufd, ids[i]));
		pt_id = ids[i];
		ASSERT_ERRNO(ENOENT, vfio_attach(d->fd, &pt_id));
	}
	check_attach_detach(_metadata, d);
}

/*
 * ATTACH to the device's own id, neither IOAS nor HWPT: EINVAL from a
 * physical device, ENOENT from an emulated one (not an IOAS)
 */
TEST_F(vfio_cdev, attach_device_id)
{
	struct vfio_dut *d = &self->d;
	__u32 pt_id;

	dut_bind(_metadata, d);
	pt_id = d->devid;
	ASSERT_ERRNO(d->emulated ? ENOENT : EINVAL,
		     vfio_attach(d->fd, &pt_id));
	ASSERT_ERRNO(EBUSY, iommufd_destroy(d->iommufd, d->devid));
	check_attach_detach(_metadata, d);
}

/* ATTACH while attached replaces, and frees the old table */
TEST_F(vfio_cdev, replace)
{
	struct vfio_dut *d = &self->d;
	__u32 ioas_a, ioas_b, pt_a, pt_b;

	dut_bind(_metadata, d);
	ioas_a = new_ioas(_metadata, d->iommufd);
	ioas_b = new_ioas(_metadata, d->iommufd);

	pt_a = dut_attach_ioas(_metadata, d, ioas_a);
	pt_b = dut_attach_ioas(_metadata, d, ioas_b);
	ASSERT_NE(pt_a, pt_b);
	ASSERT_FALSE(ioas_attached(_metadata, d->iommufd, ioas_a));
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, ioas_a));
	ASSERT_ERRNO(ENOENT, iommufd_destroy(d->iommufd, pt_a));
	dut_detach_ioas(_metadata, d, ioas_b, pt_b);
}

/* ATTACH to the table already attached succeeds and changes nothing */
TEST_F(vfio_cdev, replace_same)
{
	struct vfio_dut *d = &self->d;
	__u32 ioas_id, pt_a, pt_id;

	dut_bind(_metadata, d);
	ioas_id = new_ioas(_metadata, d->iommufd);
	pt_a = dut_attach_ioas(_metadata, d, ioas_id);

	/* By the IOAS id: a physical device keeps its HWPT */
	pt_id = ioas_id;
	ASSERT_EQ(0, vfio_attach(d->fd, &pt_id));
	ASSERT_EQ(pt_a, pt_id);
	/* By the id ATTACH returned */
	pt_id = pt_a;
	ASSERT_EQ(0, vfio_attach(d->fd, &pt_id));
	ASSERT_EQ(pt_a, pt_id);
	ASSERT_ERRNO(EBUSY, iommufd_destroy(d->iommufd, pt_a));
	dut_detach_ioas(_metadata, d, ioas_id, pt_a);
}

/* A replace that fails leaves the device where it was */
TEST_F(vfio_cdev, failed_replace_keeps_attachment)
{
	struct vfio_dut *d = &self->d;
	__u32 ioas_id, pt_a, pt_id;

	dut_bind(_metadata, d);
	ioas_id = new_ioas(_metadata, d->iommufd);
	pt_a = dut_attach_ioas(_metadata, d, ioas_id);

	pt_id = UNKNOWN_ID;
	ASSERT_ERRNO(ENOENT, vfio_attach(d->fd, &pt_id));
	pt_id = d->devid;
	ASSERT_ERRNO(d->emulated ? ENOENT : EINVAL,
		     vfio_attach(d->fd, &pt_id));

	ASSERT_TRUE(ioas_attached(_metadata, d->iommufd, ioas_id));
	ASSERT_ERRNO(EBUSY, iommufd_destroy(d->iommufd, ioas_id));
	ASSERT_ERRNO(EBUSY, iommufd_destroy(d->iommufd, pt_a));
	dut_detach_ioas(_metadata, d, ioas_id, pt_a);
}

/*
 * When writing pt_id back faults, ATTACH fails with EFAULT and undoes
 * the attach
 */
TEST_F(vfio_cdev, writeback_fault_detaches)
{
	struct vfio_device_attach_iommufd_pt *args;
	struct vfio_dut *d = &self->d;
	__u32 ioas_id;

	dut_bind(_metadata, d);
	ioas_id = new_ioas(_metadata, d->iommufd);
	args = attach_args(_metadata, ioas_id, PROT_READ);

	ASSERT_ERRNO(EFAULT, ioctl(d->fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, args));
	ASSERT_FALSE(ioas_attached(_metadata, d->iommufd, ioas_id));
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, ioas_id));
	ASSERT_EQ(0, vfio_detach(d->fd));
	check_attach_detach(_metadata, d);
}

/*
 * The same when the device was attached before: it is left detached,
 * from the old table too
 */
TEST_F(vfio_cdev, writeback_fault_attached_detaches)
{
	struct vfio_device_attach_iommufd_pt *args;
	struct vfio_dut *d = &self->d;
	__u32 ioas_a, ioas_b, pt_a;

	dut_bind(_metadata, d);
	ioas_a = new_ioas(_metadata, d->iommufd);
	ioas_b = new_ioas(_metadata, d->iommufd);
	pt_a = dut_attach_ioas(_metadata, d, ioas_a);
	args = attach_args(_metadata, ioas_b, PROT_READ);

	ASSERT_ERRNO(EFAULT, ioctl(d->fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, args));
	ASSERT_FALSE(ioas_attached(_metadata, d->iommufd, ioas_a));
	ASSERT_FALSE(ioas_attached(_metadata, d->iommufd, ioas_b));
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, ioas_a));
	ASSERT_ERRNO(ENOENT, iommufd_destroy(d->iommufd, pt_a));
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, ioas_b));
	check_attach_detach(_metadata, d);
}

/*
 * ATTACH whose pt_id cannot be read, as it lies in an unmapped page:
 * EFAULT, and the attachment the device has stays
 */
TEST_F(vfio_cdev, unreadable_args)
{
	struct vfio_device_attach_iommufd_pt *args;
	struct vfio_dut *d = &self->d;
	__u32 ioas_id, pt_id;

	dut_bind(_metadata, d);
	ioas_id = new_ioas(_metadata, d->iommufd);
	pt_id = dut_attach_ioas(_metadata, d, ioas_id);
	args = attach_args_unmapped(_metadata);

	ASSERT_ERRNO(EFAULT, ioctl(d->fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, args));
	ASSERT_TRUE(ioas_attached(_metadata, d->iommufd, ioas_id));
	ASSERT_ERRNO(EBUSY, iommufd_destroy(d->iommufd, pt_id));
	dut_detach_ioas(_metadata, d, ioas_id, pt_id);
}

/* DETACH when never attached succeeds and changes nothing */
TEST_F(vfio_cdev, detach_not_attached)
{
	struct vfio_dut *d = &self->d;

	dut_bind(_metadata, d);
	ASSERT_EQ(0, vfio_detach(d->fd));
	ASSERT_ERRNO(EBUSY, iommufd_destroy(d->iommufd, d->devid));
	check_attach_detach(_metadata, d);
}

/* A second DETACH succeeds and changes nothing */
TEST_F(vfio_cdev, detach_twice)
{
	struct vfio_dut *d = &self->d;
	__u32 ioas_id, pt_id;

	dut_bind(_metadata, d);
	ioas_id = new_ioas(_metadata, d->iommufd);
	pt_id = dut_attach_ioas(_metadata, d, ioas_id);

	ASSERT_EQ(0, vfio_detach(d->fd));
	ASSERT_EQ(0, vfio_detach(d->fd));
	ASSERT_FALSE(ioas_attached(_metadata, d->iommufd, ioas_id));
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, ioas_id));
	ASSERT_ERRNO(ENOENT, iommufd_destroy(d->iommufd, pt_id));
	ASSERT_ERRNO(EBUSY, iommufd_destroy(d->iommufd, d->devid));
	check_attach_detach(_metadata, d);
}

/*
 * Close() of an attached device fd detaches and unbinds it; it opens and
 * binds again, to the same iommufd and to another one
 */
TEST_F(vfio_cdev, close_attached)
{
	struct vfio_dut *d = &self->d;
	__u32 ioas_id, pt_id;

	dut_bind(_metadata, d);
	ioas_id = new_ioas(_metadata, d->iommufd);
	pt_id = dut_attach_ioas(_metadata, d, ioas_id);

	dut_close(_metadata, d);
	ASSERT_ERRNO(ENOENT, iommufd_destroy(d->iommufd, d->devid));
	ASSERT_FALSE(ioas_attached(_metadata, d->iommufd, ioas_id));
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, ioas_id));
	ASSERT_ERRNO(ENOENT, iommufd_destroy(d->iommufd, pt_id));

	dut_reopen(_metadata, d);
	dut_bind(_metadata, d);
	check_attach_detach(_metadata, d);

	dut_reopen(_metadata, d);
	dut_close_iommufd(d);
	dut_open_iommufd(d);
	dut_bind(_metadata, d);
	check_attach_detach(_metadata, d);
}

/*
 * QEMU's order, end to end: open, BIND, IOAS_ALLOC, ATTACH, IOAS_MAP of
 * user memory the device then reaches, DETACH, UNMAP, DESTROY, close
 */
TEST_F(vfio_cdev, qemu_order)
{
	size_t len = GUEST_PAGES * page_size();
	struct vfio_dut *d = &self->d;
	__u32 ioas_id, pt_id, devid;
	unsigned char *mem;
	__u64 unmapped;

	mem = guest_mem(_metadata, len);
	dut_reopen(_metadata, d);
	dut_bind(_metadata, d);
	devid = d->devid;
	ioas_id = new_ioas(_metadata, d->iommufd);
	pt_id = dut_attach_ioas(_metadata, d, ioas_id);
	ASSERT_EQ(0, dut_map(d, ioas_id, mem, len, TEST_IOVA));
	check_device_sees(_metadata, d, pt_id, mem, len);

	ASSERT_EQ(0, vfio_detach(d->fd));
	ASSERT_EQ(0, dut_unmap(d, ioas_id, len, TEST_IOVA, &unmapped));
	ASSERT_EQ(len, unmapped);
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, ioas_id));
	ASSERT_ERRNO(ENOENT, iommufd_destroy(d->iommufd, pt_id));
	dut_close(_metadata, d);
	ASSERT_ERRNO(ENOENT, iommufd_destroy(d->iommufd, devid));
}

/* An fd that is not bound can do nothing but BIND */
TEST_F(vfio_cdev, unbound_fd_only_binds)
{
	struct vfio_dut *d = &self->d;
	int null;

	check_fd_refused(_metadata, d->fd);
	/* A BIND that fails grants nothing */
	null = open("/dev/null", O_RDWR);
	ASSERT_LE(0, null);
	ASSERT_ERRNO(EBADFD, vfio_bind(d->fd, null, NULL));
	check_fd_refused(_metadata, d->fd);

	dut_bind(_metadata, d);
	check_attach_detach(_metadata, d);
}

/*
 * Nor can another open of a bound device: it cannot detach or replace
 * the bound fd's attachment
 */
TEST_F(vfio_cdev, second_fd_cannot_act)
{
	struct vfio_dut *d = &self->d;
	__u32 ioas_a, ioas_b, pt_a, pt_id;
	int fd2;

	dut_bind(_metadata, d);
	ioas_a = new_ioas(_metadata, d->iommufd);
	ioas_b = new_ioas(_metadata, d->iommufd);
	pt_a = dut_attach_ioas(_metadata, d, ioas_a);

	fd2 = open(d->cdev, O_RDWR);
	ASSERT_LE(0, fd2);
	check_fd_refused(_metadata, fd2);
	pt_id = ioas_b;
	ASSERT_ERRNO(EINVAL, vfio_attach(fd2, &pt_id));

	ASSERT_TRUE(ioas_attached(_metadata, d->iommufd, ioas_a));
	ASSERT_FALSE(ioas_attached(_metadata, d->iommufd, ioas_b));
	ASSERT_ERRNO(EBUSY, iommufd_destroy(d->iommufd, pt_a));
	dut_detach_ioas(_metadata, d, ioas_a, pt_a);
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, ioas_b));
}

/* IOAS and HWPT ids of another iommufd are unknown to the device */
TEST_F(vfio_cdev, foreign_ids_unknown)
{
	__u32 own_ioas, ioas_id, stdev_id, hwpt_id, idev_id, pt_id;
	struct iommu *ctx = iommu_init(MODE_IOMMUFD);
	struct vfio_dut *d = &self->d;
	int other = ctx->iommufd;
	__u64 alignment;
	int i;

	/* More objects in the other iommufd than in the device's */
	ioas_id = new_ioas(_metadata, other);
	for (i = 0; i < 3; i++)
		ioas_id = new_ioas(_metadata, other);
	if (d->emulated) {
		/* An HWPT needs a physical device: a mock one of the selftest */
		ASSERT_EQ(0, mock_domain(other, ioas_id, &stdev_id, &hwpt_id,
					 &idev_id));
	} else {
		/* The device makes one, bound to the other iommufd for that */
		ASSERT_EQ(0, vfio_bind(d->fd, other, &idev_id));
		ASSERT_EQ(0, hwpt_alloc(other, idev_id, ioas_id, &hwpt_id));
		dut_reopen(_metadata, d);
	}
	dut_bind(_metadata, d);
	own_ioas = new_ioas(_metadata, d->iommufd);
	ASSERT_LT(own_ioas, ioas_id);
	ASSERT_LT(own_ioas, hwpt_id);
	ASSERT_EQ(0, ioas_iova_alignment(other, ioas_id, &alignment));
	/* Both are unknown in the device's iommufd */
	ASSERT_ERRNO(ENOENT, ioas_iova_alignment(d->iommufd, ioas_id,
						 &alignment));
	ASSERT_ERRNO(ENOENT, iommufd_destroy(d->iommufd, hwpt_id));

	pt_id = ioas_id;
	ASSERT_ERRNO(ENOENT, vfio_attach(d->fd, &pt_id));
	pt_id = hwpt_id;
	ASSERT_ERRNO(ENOENT, vfio_attach(d->fd, &pt_id));

	/* Nothing changed in the other iommufd */
	ASSERT_EQ(0, iommufd_destroy(other, d->emulated ? stdev_id : hwpt_id));
	ASSERT_FALSE(ioas_attached(_metadata, other, ioas_id));
	ASSERT_EQ(0, iommufd_destroy(other, ioas_id));
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, own_ioas));
	check_attach_detach(_metadata, d);
	iommu_cleanup(ctx);
}

/* The device id is unknown to another iommufd */
TEST_F(vfio_cdev, foreign_device_id_unknown)
{
	struct vfio_dut *d = &self->d;
	__u32 ioas_id, hwpt_id;
	struct iommu *ctx;
	int other, i;

	/* A device id above every id of the other iommufd */
	for (i = 0; i < 4; i++)
		new_ioas(_metadata, d->iommufd);
	dut_bind(_metadata, d);
	ctx = iommu_init(MODE_IOMMUFD);
	other = ctx->iommufd;
	ioas_id = new_ioas(_metadata, other);
	ASSERT_LT(ioas_id, d->devid);

	ASSERT_ERRNO(ENOENT, iommufd_destroy(other, d->devid));
	ASSERT_ERRNO(ENOENT, hwpt_alloc(other, d->devid, ioas_id, &hwpt_id));
	ASSERT_EQ(0, iommufd_destroy(other, ioas_id));
	ASSERT_ERRNO(EBUSY, iommufd_destroy(d->iommufd, d->devid));
	check_attach_detach(_metadata, d);
	iommu_cleanup(ctx);
}

/* A device bound through its cdev keeps its group from being opened */
TEST_F(vfio_cdev, cdev_blocks_group)
{
	struct vfio_dut *d = &self->d;
	int group;

	/* An open cdev that is not bound does not */
	group = open(d->group, O_RDWR);
	ASSERT_LE(0, group) TH_LOG("cannot open %s", d->group);
	ASSERT_EQ(0, close(group));

	dut_bind(_metadata, d);
	ASSERT_ERRNO(EBUSY, open(d->group, O_RDWR));

	/* Closing the device fd unbinds it and unblocks the group */
	dut_close(_metadata, d);
	group = open(d->group, O_RDWR);
	ASSERT_LE(0, group);
	ASSERT_EQ(0, close(group));
}

/* An open group keeps its device from binding through the cdev */
TEST_F(vfio_cdev, group_blocks_cdev)
{
	struct vfio_dut *d = &self->d;
	int group;

	group = open(d->group, O_RDWR);
	ASSERT_LE(0, group) TH_LOG("cannot open %s", d->group);
	ASSERT_ERRNO(EBUSY, vfio_bind(d->fd, d->iommufd, NULL));
	check_ioctls_refused(_metadata, d->fd);

	ASSERT_EQ(0, close(group));
	dut_bind(_metadata, d);
	check_attach_detach(_metadata, d);
}

/* Emulated devices: DMA through iommufd_access */

FIXTURE(vfio_emulated)
{
	struct vfio_dut d;
};

FIXTURE_VARIANT(vfio_emulated)
{
	const char *driver;
};

FIXTURE_VARIANT_ADD(vfio_emulated, c_emulated)
{
	.driver = "vfio-sample-emul",
};

FIXTURE_SETUP(vfio_emulated)
{
	dut_setup(_metadata, &self->d, variant->driver, true);
}

FIXTURE_TEARDOWN(vfio_emulated)
{
	dut_teardown(&self->d);
}

/*
 * After DETACH the device can neither access nor pin IOVA, although the
 * mapping is still there: attached again, it reaches it
 */
TEST_F(vfio_emulated, no_dma_after_detach)
{
	size_t len = GUEST_PAGES * page_size();
	struct vfio_dut *d = &self->d;
	unsigned char *mem;
	__u32 ioas_id;

	mem = dut_attach_mapped(_metadata, d, len, &ioas_id);
	check_dma(_metadata, d->fd, DMA_REGION_RW, mem, len);
	check_dma(_metadata, d->fd, DMA_REGION_PIN, mem, len);

	ASSERT_EQ(0, vfio_detach(d->fd));
	check_no_dma(_metadata, d->fd, DMA_REGION_RW, mem);
	check_no_dma(_metadata, d->fd, DMA_REGION_PIN, mem);

	dut_attach_ioas(_metadata, d, ioas_id);
	check_dma(_metadata, d->fd, DMA_REGION_RW, mem, len);
	check_dma(_metadata, d->fd, DMA_REGION_PIN, mem, len);
	dut_detach_ioas(_metadata, d, ioas_id, ioas_id);
}

/*
 * A driver without the PASID callbacks refuses ATTACH and DETACH with the
 * PASID flag (EOPNOTSUPP), and its attachment stays
 */
TEST_F(vfio_emulated, pasid_flag_unsupported)
{
	struct vfio_dut *d = &self->d;
	__u32 ioas_id, pt_id;

	dut_bind(_metadata, d);
	ioas_id = new_ioas(_metadata, d->iommufd);
	pt_id = dut_attach_ioas(_metadata, d, ioas_id);

	ASSERT_ERRNO(EOPNOTSUPP, vfio_pasid_attach(d->fd, PASID, &pt_id));
	ASSERT_EQ(ioas_id, pt_id);
	ASSERT_ERRNO(EOPNOTSUPP, vfio_pasid_detach(d->fd, PASID));
	ASSERT_TRUE(ioas_attached(_metadata, d->iommufd, ioas_id));
	dut_detach_ioas(_metadata, d, ioas_id, pt_id);
}

/*
 * The emulated samples' device ioctls, mailbox and interrupts (see
 * samples/vfio/vfio_sample_emul.c)
 */

/* The doorbell register: the rings since the last reset */
static __u32 doorbells(struct __test_metadata *_metadata, int fd)
{
	__u32 val;

	ASSERT_EQ(sizeof(val), pread(fd, &val, sizeof(val),
				     mailbox_offset(page_size())));
	return val;
}

/*
 * GET_INFO: a reset, three regions and two interrupts; an argsz below the
 * fields is refused
 */
TEST_F(vfio_emulated, device_info)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct vfio_dut *d = &self->d;

	dut_bind(_metadata, d);
	ASSERT_EQ(0, ioctl(d->fd, VFIO_DEVICE_GET_INFO, &info));
	ASSERT_EQ(VFIO_DEVICE_FLAGS_RESET, info.flags);
	ASSERT_EQ(NUM_REGIONS, info.num_regions);
	ASSERT_EQ(NUM_IRQS, info.num_irqs);

	info.argsz = offsetof(struct vfio_device_info, num_irqs);
	ASSERT_ERRNO(EINVAL, ioctl(d->fd, VFIO_DEVICE_GET_INFO, &info));
	ASSERT_ERRNO(ENOTTY, ioctl(d->fd, VFIO_DEVICE_GET_INFO + 0x40, &info));
}

/*
 * GET_REGION_INFO: each region at its index << 40; the mailbox's sparse
 * mmap capability names its first page. An argsz too small for the
 * capability gets the size it needs back, and no capability
 */
TEST_F(vfio_emulated, region_info)
{
	struct {
		struct vfio_region_info info;
		struct vfio_region_info_cap_sparse_mmap sparse;
		struct vfio_region_sparse_mmap_area area;
	} arg = {};
	struct vfio_region_info info;
	struct vfio_dut *d = &self->d;
	__u32 i;

	dut_bind(_metadata, d);
	for (i = 0; i < MAILBOX_REGION; i++) {
		ASSERT_EQ(0, vfio_region_info(d->fd, i, &info));
		ASSERT_EQ((__u64)i << DMA_REGION_SHIFT, info.offset);
		ASSERT_EQ(1ULL << DMA_REGION_SHIFT, info.size);
		ASSERT_EQ(VFIO_REGION_INFO_FLAG_READ |
			  VFIO_REGION_INFO_FLAG_WRITE, info.flags);
	}
	ASSERT_ERRNO(EINVAL, vfio_region_info(d->fd, NUM_REGIONS, &info));

	ASSERT_EQ(0, vfio_region_info(d->fd, MAILBOX_REGION, &info));
	ASSERT_EQ(mailbox_offset(0), info.offset);
	ASSERT_EQ(2 * page_size(), info.size);
	ASSERT_EQ(VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
		  VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS,
		  info.flags);
	ASSERT_EQ(sizeof(arg), info.argsz);
	ASSERT_EQ(0, info.cap_offset);

	arg.info.argsz = sizeof(arg);
	arg.info.index = MAILBOX_REGION;
	ASSERT_EQ(0, ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, &arg));
	ASSERT_EQ(sizeof(arg.info), arg.info.cap_offset);
	ASSERT_EQ(VFIO_REGION_INFO_CAP_SPARSE_MMAP, arg.sparse.header.id);
	ASSERT_EQ(1, arg.sparse.header.version);
	ASSERT_EQ(0, arg.sparse.header.next);
	ASSERT_EQ(1, arg.sparse.nr_areas);
	ASSERT_EQ(0, arg.area.offset);
	ASSERT_EQ(page_size(), arg.area.size);
}

/* GET_IRQ_INFO: one eventfd interrupt at each index, none past them */
TEST_F(vfio_emulated, irq_info)
{
	struct vfio_irq_info irq = { .argsz = sizeof(irq) };
	struct vfio_dut *d = &self->d;

	dut_bind(_metadata, d);
	for (irq.index = 0; irq.index < NUM_IRQS; irq.index++) {
		ASSERT_EQ(0, ioctl(d->fd, VFIO_DEVICE_GET_IRQ_INFO, &irq));
		ASSERT_EQ(VFIO_IRQ_INFO_EVENTFD, irq.flags);
		ASSERT_EQ(1, irq.count);
	}
	ASSERT_ERRNO(EINVAL, ioctl(d->fd, VFIO_DEVICE_GET_IRQ_INFO, &irq));
	irq.index = 0;
	irq.argsz = offsetof(struct vfio_irq_info, count);
	ASSERT_ERRNO(EINVAL, ioctl(d->fd, VFIO_DEVICE_GET_IRQ_INFO, &irq));
}

/*
 * SET_IRQS: a ring signals the eventfd set for it, as does a trigger without
 * data or with true; removing the eventfd stops that. Requests the device
 * cannot carry out are refused and change nothing
 */
TEST_F(vfio_emulated, doorbell_eventfd)
{
	/* Another action, no such index, a range past it, no data */
	static const struct {
		__u32 index, flags, count;
	} refused[] = {
		{ IRQ_DOORBELL,
		  VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK, 1 },
		{ NUM_IRQS,
		  VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 1 },
		{ IRQ_DOORBELL,
		  VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 2 },
		{ IRQ_DOORBELL,
		  VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 1 },
	};
	struct vfio_dut *d = &self->d;
	__u8 yes = 1, no = 0;
	int efd, other;
	size_t i;

	dut_bind(_metadata, d);
	efd = eventfd(0, EFD_NONBLOCK);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, set_trigger(d->fd, IRQ_DOORBELL, efd));
	ASSERT_EQ(sizeof(__u32), ring_doorbell(d->fd));
	ASSERT_EQ(sizeof(__u32), ring_doorbell(d->fd));
	ASSERT_EQ(2, eventfd_count(efd));
	ASSERT_EQ(2, doorbells(_metadata, d->fd));

	ASSERT_EQ(0, set_irq(d->fd, IRQ_DOORBELL, VFIO_IRQ_SET_DATA_NONE |
		  VFIO_IRQ_SET_ACTION_TRIGGER, 1, NULL, 0));
	ASSERT_EQ(0, set_irq(d->fd, IRQ_DOORBELL, VFIO_IRQ_SET_DATA_BOOL |
		  VFIO_IRQ_SET_ACTION_TRIGGER, 1, &no, 1));
	ASSERT_EQ(1, eventfd_count(efd));
	ASSERT_EQ(0, set_irq(d->fd, IRQ_DOORBELL, VFIO_IRQ_SET_DATA_BOOL |
		  VFIO_IRQ_SET_ACTION_TRIGGER, 1, &yes, 1));
	ASSERT_EQ(1, eventfd_count(efd));

	/* Not an eventfd, not a file */
	other = open("/dev/null", O_RDONLY);
	ASSERT_LE(0, other);
	ASSERT_ERRNO(EINVAL, set_trigger(d->fd, IRQ_DOORBELL, other));
	ASSERT_ERRNO(EBADF, set_trigger(d->fd, IRQ_DOORBELL, 1000000));
	for (i = 0; i < ARRAY_SIZE(refused); i++)
		ASSERT_ERRNO(EINVAL, set_irq(d->fd, refused[i].index,
					     refused[i].flags, refused[i].count,
					     NULL, 0));
	ASSERT_EQ(sizeof(__u32), ring_doorbell(d->fd));
	ASSERT_EQ(1, eventfd_count(efd));

	ASSERT_EQ(0, set_trigger(d->fd, IRQ_DOORBELL, -1));
	ASSERT_EQ(sizeof(__u32), ring_doorbell(d->fd));
	ASSERT_EQ(0, eventfd_count(efd));
	ASSERT_EQ(0, set_trigger(d->fd, IRQ_DOORBELL, efd));
	ASSERT_EQ(0, set_irq(d->fd, IRQ_DOORBELL, VFIO_IRQ_SET_DATA_NONE |
		  VFIO_IRQ_SET_ACTION_TRIGGER, 0, NULL, 0));
	ASSERT_EQ(sizeof(__u32), ring_doorbell(d->fd));
	ASSERT_EQ(0, eventfd_count(efd));
	close(other);
	close(efd);
}

/*
 * The eventfds live as long as the open that set them: once the device is
 * closed and opened again, a ring signals nothing, and the eventfd holds no
 * reference to the device
 */
TEST_F(vfio_emulated, triggers_end_with_the_open)
{
	struct vfio_dut *d = &self->d;
	int efd;

	dut_bind(_metadata, d);
	efd = eventfd(0, EFD_NONBLOCK);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, set_trigger(d->fd, IRQ_DOORBELL, efd));
	ASSERT_EQ(0, set_trigger(d->fd, IRQ_REQ, efd));
	ASSERT_EQ(0, close(d->fd));

	d->fd = open(d->cdev, O_RDWR);
	ASSERT_LE(0, d->fd);
	dut_bind(_metadata, d);
	ASSERT_EQ(sizeof(__u32), ring_doorbell(d->fd));
	ASSERT_EQ(0, eventfd_count(efd));
	close(efd);
}

/*
 * The mailbox: what user space writes through its mapping, the device reads
 * through the file, and the reverse; RESET zeroes it and the doorbell count.
 * Only its page maps, shared, one page at a time
 */
TEST_F(vfio_emulated, mailbox_mmap)
{
	unsigned char buf[DMA_LEN], zero[DMA_LEN] = {};
	struct vfio_dut *d = &self->d;
	size_t ps = page_size();
	unsigned char *map;

	dut_bind(_metadata, d);
	map = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_SHARED, d->fd,
		   mailbox_offset(0));
	ASSERT_NE(MAP_FAILED, map);
	fill(map + 100, DMA_LEN, 7);
	ASSERT_EQ(DMA_LEN, pread(d->fd, buf, DMA_LEN, mailbox_offset(100)));
	ASSERT_EQ(0, memcmp(buf, map + 100, DMA_LEN));
	fill(buf, DMA_LEN, 9);
	ASSERT_EQ(DMA_LEN, pwrite(d->fd, buf, DMA_LEN, mailbox_offset(ps - DMA_LEN)));
	ASSERT_EQ(0, memcmp(buf, map + ps - DMA_LEN, DMA_LEN));
	ASSERT_EQ(sizeof(__u32), ring_doorbell(d->fd));

	ASSERT_EQ(0, ioctl(d->fd, VFIO_DEVICE_RESET));
	ASSERT_EQ(0, memcmp(zero, map + 100, DMA_LEN));
	ASSERT_EQ(0, memcmp(zero, map + ps - DMA_LEN, DMA_LEN));
	ASSERT_EQ(0, doorbells(_metadata, d->fd));

	/* The registers, a private mapping, two pages, another region */
	ASSERT_EQ(MAP_FAILED, mmap(NULL, ps, PROT_READ, MAP_SHARED, d->fd,
				   mailbox_offset(ps)));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(MAP_FAILED, mmap(NULL, ps, PROT_READ, MAP_PRIVATE, d->fd,
				   mailbox_offset(0)));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(MAP_FAILED, mmap(NULL, 2 * ps, PROT_READ, MAP_SHARED, d->fd,
				   mailbox_offset(0)));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(MAP_FAILED, mmap(NULL, ps, PROT_READ, MAP_SHARED, d->fd, 0));
	ASSERT_EQ(EINVAL, errno);

	/* The mapping outlives the open, and keeps its page */
	ASSERT_EQ(0, close(d->fd));
	d->fd = -1;
	map[0] = 1;
	ASSERT_EQ(0, munmap(map, ps));
}

/* Physical devices: HWPTs of their own */

FIXTURE(vfio_physical)
{
	struct vfio_dut d;
};

FIXTURE_VARIANT(vfio_physical)
{
	const char *driver;
};

FIXTURE_VARIANT_ADD(vfio_physical, c_physical)
{
	.driver = "vfio-sample-phys",
};

FIXTURE_VARIANT_ADD(vfio_physical, vfio_pci)
{
	.driver = EDU_DRIVER,
};

FIXTURE_SETUP(vfio_physical)
{
	dut_setup(_metadata, &self->d, variant->driver, false);
}

FIXTURE_TEARDOWN(vfio_physical)
{
	dut_teardown(&self->d);
}

/* Close() of a device attached to an HWPT leaves the HWPT free */
TEST_F(vfio_physical, close_attached_hwpt)
{
	struct vfio_dut *d = &self->d;
	__u32 ioas_id, hwpt_id, pt_id;

	dut_bind(_metadata, d);
	ioas_id = new_ioas(_metadata, d->iommufd);
	ASSERT_EQ(0, hwpt_alloc(d->iommufd, d->devid, ioas_id, &hwpt_id));
	pt_id = hwpt_id;
	ASSERT_EQ(0, vfio_attach(d->fd, &pt_id));
	ASSERT_ERRNO(EBUSY, iommufd_destroy(d->iommufd, hwpt_id));

	dut_close(_metadata, d);
	ASSERT_ERRNO(ENOENT, iommufd_destroy(d->iommufd, d->devid));
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, hwpt_id));
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, ioas_id));

	dut_reopen(_metadata, d);
	dut_bind(_metadata, d);
	check_attach_detach(_metadata, d);
}

/*
 * QEMU's order with an HWPT of its own: BIND, IOAS_ALLOC, HWPT_ALLOC,
 * ATTACH, IOAS_MAP, DETACH, UNMAP, DESTROY HWPT, DESTROY IOAS, close
 */
TEST_F(vfio_physical, qemu_order_hwpt)
{
	size_t len = GUEST_PAGES * page_size();
	struct vfio_dut *d = &self->d;
	__u32 ioas_id, hwpt_id, pt_id, devid;
	unsigned char *mem;
	__u64 unmapped;

	mem = guest_mem(_metadata, len);
	dut_reopen(_metadata, d);
	dut_bind(_metadata, d);
	devid = d->devid;
	ioas_id = new_ioas(_metadata, d->iommufd);
	ASSERT_EQ(0, hwpt_alloc(d->iommufd, devid, ioas_id, &hwpt_id));
	pt_id = hwpt_id;
	ASSERT_EQ(0, vfio_attach(d->fd, &pt_id));
	ASSERT_EQ(hwpt_id, pt_id);
	ASSERT_EQ(0, dut_map(d, ioas_id, mem, len, TEST_IOVA));
	check_device_sees(_metadata, d, hwpt_id, mem, len);
	ASSERT_ERRNO(EBUSY, iommufd_destroy(d->iommufd, hwpt_id));

	ASSERT_EQ(0, vfio_detach(d->fd));
	/* The HWPT outlives the attachment and follows the IOAS */
	if (!d->edu)
		ASSERT_EQ(0, md_check_map(d->iommufd, hwpt_id, TEST_IOVA, mem,
					  len));
	ASSERT_EQ(0, dut_unmap(d, ioas_id, len, TEST_IOVA, &unmapped));
	ASSERT_EQ(len, unmapped);
	if (!d->edu)
		ASSERT_ERRNO(EINVAL, md_check_map(d->iommufd, hwpt_id,
						  TEST_IOVA, mem, len));
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, hwpt_id));
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, ioas_id));
	dut_close(_metadata, d);
	ASSERT_ERRNO(ENOENT, iommufd_destroy(d->iommufd, devid));
}

/*
 * PASIDs: the physical sample's mock device has them (vfio-pci's edu device
 * has none). A PASID attaches only to an HWPT allocated for PASIDs
 * (IOMMU_HWPT_ALLOC_PASID), and while one is attached, the RID only to such
 * an HWPT too.
 */

FIXTURE(vfio_pasid)
{
	struct vfio_dut d;
	__u32 ioas_id;
};

FIXTURE_VARIANT(vfio_pasid)
{
	const char *driver;
};

FIXTURE_VARIANT_ADD(vfio_pasid, c_physical)
{
	.driver = "vfio-sample-phys",
};

FIXTURE_SETUP(vfio_pasid)
{
	dut_setup(_metadata, &self->d, variant->driver, false);
	dut_bind(_metadata, &self->d);
	self->ioas_id = new_ioas(_metadata, self->d.iommufd);
}

FIXTURE_TEARDOWN(vfio_pasid)
{
	dut_teardown(&self->d);
}

/* An HWPT on @ioas_id that PASIDs can attach to */
static __u32 pasid_hwpt(struct __test_metadata *_metadata,
			struct vfio_dut *d, __u32 ioas_id)
{
	__u32 hwpt_id;

	ASSERT_EQ(0, hwpt_alloc_flags(d->iommufd, d->devid, ioas_id,
				      IOMMU_HWPT_ALLOC_PASID, &hwpt_id));
	return hwpt_id;
}

/* Attach @pasid (or the RID) to @hwpt, which keeps its id */
static void pasid_attach(struct __test_metadata *_metadata,
			 struct vfio_dut *d, __u32 pasid, __u32 hwpt)
{
	__u32 pt_id = hwpt;
	int ret;

	ret = pasid == RID ? vfio_attach(d->fd, &pt_id) :
			     vfio_pasid_attach(d->fd, pasid, &pt_id);
	ASSERT_EQ(0, ret);
	ASSERT_EQ(hwpt, pt_id);
	ASSERT_ERRNO(EBUSY, iommufd_destroy(d->iommufd, hwpt));
}

/* ATTACH with the PASID flag attaches that PASID; the RID keeps its table */
TEST_F(vfio_pasid, pasid_attach_keeps_rid)
{
	__u32 rid_hwpt = pasid_hwpt(_metadata, &self->d, self->ioas_id);
	__u32 hwpt = pasid_hwpt(_metadata, &self->d, self->ioas_id);
	struct vfio_dut *d = &self->d;

	pasid_attach(_metadata, d, RID, rid_hwpt);
	pasid_attach(_metadata, d, PASID, hwpt);
	ASSERT_ERRNO(EBUSY, iommufd_destroy(d->iommufd, rid_hwpt));

	ASSERT_EQ(0, vfio_pasid_detach(d->fd, PASID));
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, hwpt));
	ASSERT_ERRNO(EBUSY, iommufd_destroy(d->iommufd, rid_hwpt));
	ASSERT_EQ(0, vfio_detach(d->fd));
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, rid_hwpt));
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, self->ioas_id));
}

/*
 * ATTACH of a PASID straight to an IOAS fails (EINVAL): the HWPT iommufd
 * would make for it is not allocated for PASIDs. Nothing is attached.
 */
TEST_F(vfio_pasid, pasid_attach_ioas)
{
	struct vfio_dut *d = &self->d;
	__u32 pt_id = self->ioas_id;

	ASSERT_ERRNO(EINVAL, vfio_pasid_attach(d->fd, PASID, &pt_id));
	ASSERT_EQ(self->ioas_id, pt_id);
	ASSERT_FALSE(ioas_attached(_metadata, d->iommufd, self->ioas_id));
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, self->ioas_id));
	check_attach_detach(_metadata, d);
}

/* ATTACH of an attached PASID replaces its table */
TEST_F(vfio_pasid, pasid_replace)
{
	__u32 hwpt_a = pasid_hwpt(_metadata, &self->d, self->ioas_id);
	__u32 hwpt_b = pasid_hwpt(_metadata, &self->d, self->ioas_id);
	struct vfio_dut *d = &self->d;

	pasid_attach(_metadata, d, PASID, hwpt_a);
	pasid_attach(_metadata, d, PASID, hwpt_b);
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, hwpt_a));

	ASSERT_EQ(0, vfio_pasid_detach(d->fd, PASID));
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, hwpt_b));
}

/*
 * A replace the IOMMU driver fails keeps the PASID on its table: the mock
 * IOMMU fails every second attach of PASID 1024, its replace here
 */
TEST_F(vfio_pasid, pasid_failed_replace_keeps_attachment)
{
	__u32 hwpt_a = pasid_hwpt(_metadata, &self->d, self->ioas_id);
	__u32 hwpt_b = pasid_hwpt(_metadata, &self->d, self->ioas_id);
	struct vfio_dut *d = &self->d;
	__u32 pt_id = hwpt_b;

	pasid_attach(_metadata, d, PASID_FAILS, hwpt_a);
	ASSERT_EQ(-1, vfio_pasid_attach(d->fd, PASID_FAILS, &pt_id));
	ASSERT_EQ(hwpt_b, pt_id);
	ASSERT_ERRNO(EBUSY, iommufd_destroy(d->iommufd, hwpt_a));
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, hwpt_b));

	ASSERT_EQ(0, vfio_pasid_detach(d->fd, PASID_FAILS));
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, hwpt_a));
}

/* DETACH with the PASID flag detaches that PASID alone */
TEST_F(vfio_pasid, pasid_detach_keeps_rid)
{
	__u32 rid_hwpt = pasid_hwpt(_metadata, &self->d, self->ioas_id);
	__u32 hwpt = pasid_hwpt(_metadata, &self->d, self->ioas_id);
	struct vfio_dut *d = &self->d;

	pasid_attach(_metadata, d, RID, rid_hwpt);
	pasid_attach(_metadata, d, PASID, hwpt);
	pasid_attach(_metadata, d, PASID_2, hwpt);

	ASSERT_EQ(0, vfio_pasid_detach(d->fd, PASID));
	ASSERT_ERRNO(EBUSY, iommufd_destroy(d->iommufd, hwpt));
	ASSERT_ERRNO(EBUSY, iommufd_destroy(d->iommufd, rid_hwpt));
	ASSERT_EQ(0, vfio_pasid_detach(d->fd, PASID_2));
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, hwpt));
	ASSERT_ERRNO(EBUSY, iommufd_destroy(d->iommufd, rid_hwpt));

	ASSERT_EQ(0, vfio_detach(d->fd));
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, rid_hwpt));
}

/* DETACH of a PASID that is not attached, also twice, changes nothing */
TEST_F(vfio_pasid, pasid_detach_not_attached)
{
	__u32 rid_hwpt = pasid_hwpt(_metadata, &self->d, self->ioas_id);
	struct vfio_dut *d = &self->d;

	pasid_attach(_metadata, d, RID, rid_hwpt);
	ASSERT_EQ(0, vfio_pasid_detach(d->fd, PASID));
	ASSERT_EQ(0, vfio_pasid_detach(d->fd, PASID));
	ASSERT_ERRNO(EBUSY, iommufd_destroy(d->iommufd, rid_hwpt));

	ASSERT_EQ(0, vfio_detach(d->fd));
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, rid_hwpt));
}

/* ATTACH and DETACH with the PASID flag need argsz to cover pasid */
TEST_F(vfio_pasid, pasid_short_argsz)
{
	struct vfio_device_attach_iommufd_pt attach = {
		.argsz = offsetof(struct vfio_device_attach_iommufd_pt, pasid),
		.flags = VFIO_DEVICE_ATTACH_PASID,
		.pasid = PASID,
	};
	struct vfio_device_detach_iommufd_pt detach = {
		.argsz = offsetof(struct vfio_device_detach_iommufd_pt, pasid),
		.flags = VFIO_DEVICE_DETACH_PASID,
		.pasid = PASID,
	};
	__u32 hwpt = pasid_hwpt(_metadata, &self->d, self->ioas_id);
	struct vfio_dut *d = &self->d;

	attach.pt_id = hwpt;
	ASSERT_ERRNO(EINVAL, ioctl(d->fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT,
				   &attach));
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, hwpt));

	hwpt = pasid_hwpt(_metadata, &self->d, self->ioas_id);
	pasid_attach(_metadata, d, PASID, hwpt);
	ASSERT_ERRNO(EINVAL, ioctl(d->fd, VFIO_DEVICE_DETACH_IOMMUFD_PT,
				   &detach));
	ASSERT_ERRNO(EBUSY, iommufd_destroy(d->iommufd, hwpt));
	ASSERT_EQ(0, vfio_pasid_detach(d->fd, PASID));
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, hwpt));
}

/*
 * close() with PASIDs and the RID attached detaches them all and unbinds:
 * iommufd holds none of their tables, and the device binds again
 */
TEST_F(vfio_pasid, close_detaches_pasids)
{
	__u32 rid_hwpt = pasid_hwpt(_metadata, &self->d, self->ioas_id);
	__u32 hwpt_a = pasid_hwpt(_metadata, &self->d, self->ioas_id);
	__u32 hwpt_b = pasid_hwpt(_metadata, &self->d, self->ioas_id);
	struct vfio_dut *d = &self->d;

	pasid_attach(_metadata, d, RID, rid_hwpt);
	pasid_attach(_metadata, d, PASID, hwpt_a);
	pasid_attach(_metadata, d, PASID_2, hwpt_b);

	dut_close(_metadata, d);
	ASSERT_ERRNO(ENOENT, iommufd_destroy(d->iommufd, d->devid));
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, hwpt_a));
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, hwpt_b));
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, rid_hwpt));
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, self->ioas_id));

	dut_reopen(_metadata, d);
	dut_bind(_metadata, d);
	check_attach_detach(_metadata, d);
}

/*
 * A PASID ATTACH that fails leaves the PASID and the RID as they were: to
 * an unknown id (ENOENT), and beside a RID on a table not allocated for
 * PASIDs (EINVAL)
 */
TEST_F(vfio_pasid, pasid_failed_attach_keeps_state)
{
	__u32 hwpt = pasid_hwpt(_metadata, &self->d, self->ioas_id);
	struct vfio_dut *d = &self->d;
	__u32 rid_auto, pt_id;

	rid_auto = dut_attach_ioas(_metadata, d, self->ioas_id);
	pt_id = UNKNOWN_ID;
	ASSERT_ERRNO(ENOENT, vfio_pasid_attach(d->fd, PASID, &pt_id));
	pt_id = hwpt;
	ASSERT_ERRNO(EINVAL, vfio_pasid_attach(d->fd, PASID, &pt_id));
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, hwpt));
	ASSERT_ERRNO(EBUSY, iommufd_destroy(d->iommufd, rid_auto));
	dut_detach_ioas(_metadata, d, self->ioas_id, rid_auto);
}

/*
 * When writing pt_id back faults after a PASID ATTACH, the ioctl fails
 * with EFAULT and undoes the attach of that PASID: the PASID is left
 * detached, and the RID keeps its table
 */
TEST_F(vfio_pasid, pasid_writeback_fault_keeps_rid)
{
	__u32 rid_hwpt = pasid_hwpt(_metadata, &self->d, self->ioas_id);
	__u32 hwpt = pasid_hwpt(_metadata, &self->d, self->ioas_id);
	struct vfio_device_attach_iommufd_pt *args;
	struct vfio_dut *d = &self->d;

	pasid_attach(_metadata, d, RID, rid_hwpt);
	args = attach_args(_metadata, hwpt, PROT_READ | PROT_WRITE);
	args->flags = VFIO_DEVICE_ATTACH_PASID;
	args->pasid = PASID;
	ASSERT_EQ(0, mprotect(args, page_size(), PROT_READ));

	ASSERT_ERRNO(EFAULT, ioctl(d->fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, args));
	ASSERT_EQ(-1, iommufd_destroy(d->iommufd, rid_hwpt))
		TH_LOG("the RID lost its table");
	ASSERT_EQ(EBUSY, errno);
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, hwpt))
		TH_LOG("the PASID stayed attached");

	ASSERT_EQ(0, vfio_detach(d->fd));
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, rid_hwpt));
}

/* vfio-pci on a virtual IOMMU: the edu device's own DMA as the proof */

FIXTURE(vfio_dma)
{
	struct vfio_dut d;
	int kmsg;
};

FIXTURE_VARIANT(vfio_dma)
{
	const char *driver;
};

FIXTURE_VARIANT_ADD(vfio_dma, vfio_pci)
{
	.driver = EDU_DRIVER,
};

FIXTURE_SETUP(vfio_dma)
{
	self->kmsg = -1;
	dut_setup(_metadata, &self->d, variant->driver, false);
	self->kmsg = kmsg_open(_metadata);
}

FIXTURE_TEARDOWN(vfio_dma)
{
	if (self->kmsg >= 0)
		close(self->kmsg);
	dut_teardown(&self->d);
}

/*
 * Announce in the kernel log the IOMMU faults a test makes the device
 * cause, between a begin and an end line; tools/run.py then takes an IOMMU
 * fault report between them as expected, and any other as a failure.
 */
static void announce_faults(struct __test_metadata *_metadata, bool begin)
{
	const char *msg = begin ? "vfio-selftest: expected IOMMU fault begins\n" :
				  "vfio-selftest: expected IOMMU fault ends\n";
	int fd = open("/dev/kmsg", O_WRONLY);

	ASSERT_LE(0, fd);
	ASSERT_EQ((ssize_t)strlen(msg), write(fd, msg, strlen(msg)));
	close(fd);
}

/*
 * Wait for the record of @kmsg in which the IOMMU reports a fault of the
 * device at @iova: Intel VT-d's "DMAR: [DMA Write NO_PASID] Request device
 * [..] fault addr <page of iova> [fault reason ..] ..." or virtio-iommu's
 * "<reason> fault from EP <n> at <iova> [..]"
 */
static bool iommu_fault_reported(int kmsg, __u64 iova)
{
	char rec[8192], exact[32], page[32], *msg;
	double end = now() + EDU_DMA_TIMEOUT;

	snprintf(exact, sizeof(exact), "%#llx", (unsigned long long)iova);
	snprintf(page, sizeof(page), "%#llx",
		 (unsigned long long)(iova & ~(__u64)(page_size() - 1)));
	while (now() < end) {
		msg = kmsg_next(kmsg, rec, sizeof(rec));
		if (!msg) {
			usleep(10000);
			continue;
		}
		if ((strstr(msg, "DMAR: [DMA ") && strstr(msg, page)) ||
		    (strstr(msg, " fault from EP ") && strstr(msg, exact)))
			return true;
	}
	return false;
}

/*
 * Read @kmsg until it has been quiet for half a second (at most 5 s): the
 * IOMMU reports a refused DMA a few bytes at a time, and the last reports
 * may come after the first, which the test waited for.
 */
static void kmsg_settle(int kmsg)
{
	double quiet = now() + 0.5, end = now() + 5;
	char rec[8192];

	while (now() < quiet && now() < end) {
		if (kmsg_next(kmsg, rec, sizeof(rec)))
			quiet = now() + 0.5;
		else
			usleep(10000);
	}
}

/*
 * After DETACH the device's DMA reaches no memory, and the IOMMU
 * reports each try. It writes its buffer to mapped memory, which stays as
 * it was; it reads other bytes of it, which never reach its buffer: written
 * out once the device is attached again, the buffer holds something else.
 * Attached again, its DMA works as before.
 */
TEST_F(vfio_dma, no_dma_after_detach)
{
	size_t len = GUEST_PAGES * page_size();
	size_t off = page_size() / 2, out = page_size() + 4 * DMA_LEN;
	unsigned char before[FAULT_LEN], *mem;
	struct vfio_dut *d = &self->d;
	__u32 ioas_id;

	mem = dut_attach_mapped(_metadata, d, len, &ioas_id);
	check_edu_dma(_metadata, d->fd, mem, len);

	ASSERT_EQ(0, vfio_detach(d->fd));
	announce_faults(_metadata, true);
	fill(mem + off, FAULT_LEN, 9);
	memcpy(before, mem + off, FAULT_LEN);
	ASSERT_EQ(0, edu_dma(d->fd, TEST_IOVA + off, 0, FAULT_LEN, true));
	ASSERT_EQ(0, memcmp(before, mem + off, FAULT_LEN))
		TH_LOG("the device wrote to memory after DETACH");
	ASSERT_TRUE(iommu_fault_reported(self->kmsg, TEST_IOVA + off));
	ASSERT_EQ(0, edu_dma(d->fd, TEST_IOVA + off, 0, FAULT_LEN, false));
	ASSERT_TRUE(iommu_fault_reported(self->kmsg, TEST_IOVA + off));
	kmsg_settle(self->kmsg);
	announce_faults(_metadata, false);

	dut_attach_ioas(_metadata, d, ioas_id);
	ASSERT_EQ(0, edu_dma(d->fd, TEST_IOVA + out, 0, FAULT_LEN, true));
	ASSERT_NE(0, memcmp(mem + off, mem + out, FAULT_LEN))
		TH_LOG("the device read memory after DETACH");
	check_edu_dma(_metadata, d->fd, mem, len);
	ASSERT_EQ(0, vfio_detach(d->fd));
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, ioas_id));
}

/*
 * A replace moves the device's DMA to the new IOAS: the same IOVA maps
 * memory A in IOAS A and memory B in IOAS B; after ATTACH to A the device
 * copies within A, after ATTACH to B within B, and A is left alone
 */
TEST_F(vfio_dma, replace_moves_dma)
{
	size_t len = GUEST_PAGES * page_size();
	unsigned char *mem_a, *mem_b, *copy_a;
	struct vfio_dut *d = &self->d;
	__u32 ioas_a, ioas_b, pt_id;

	mem_a = guest_mem(_metadata, len);
	mem_b = guest_mem(_metadata, len);
	fill(mem_b, len, 3);
	copy_a = malloc(len);
	ASSERT_NE(NULL, copy_a);
	dut_bind(_metadata, d);
	ioas_a = new_ioas(_metadata, d->iommufd);
	ioas_b = new_ioas(_metadata, d->iommufd);
	ASSERT_EQ(0, dut_map(d, ioas_a, mem_a, len, TEST_IOVA));
	ASSERT_EQ(0, dut_map(d, ioas_b, mem_b, len, TEST_IOVA));

	dut_attach_ioas(_metadata, d, ioas_a);
	check_edu_dma(_metadata, d->fd, mem_a, len);
	memcpy(copy_a, mem_a, len);

	pt_id = ioas_b;
	ASSERT_EQ(0, vfio_attach(d->fd, &pt_id))
		TH_LOG("ATTACH (replace): %s", strerror(errno));
	ASSERT_TRUE(ioas_attached(_metadata, d->iommufd, ioas_b));
	ASSERT_FALSE(ioas_attached(_metadata, d->iommufd, ioas_a));
	check_edu_dma(_metadata, d->fd, mem_b, len);
	ASSERT_EQ(0, memcmp(copy_a, mem_a, len));

	ASSERT_EQ(0, vfio_detach(d->fd));
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, ioas_a));
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, ioas_b));
	free(copy_a);
}

/*
 * Close() of the attached device and a new BIND: the device's DMA
 * works again, in the IOAS it is then attached to
 */
TEST_F(vfio_dma, rebind_dma)
{
	size_t len = GUEST_PAGES * page_size();
	struct vfio_dut *d = &self->d;
	unsigned char *mem;
	__u32 ioas_id, pt_id;

	mem = dut_attach_mapped(_metadata, d, len, &ioas_id);
	check_edu_dma(_metadata, d->fd, mem, len);

	dut_close(_metadata, d);
	ASSERT_FALSE(ioas_attached(_metadata, d->iommufd, ioas_id));
	dut_reopen(_metadata, d);
	dut_bind(_metadata, d);
	pt_id = dut_attach_ioas(_metadata, d, ioas_id);
	check_edu_dma(_metadata, d->fd, mem, len);
	dut_detach_ioas(_metadata, d, ioas_id, pt_id);
}

TEST_HARNESS_MAIN
