// SPDX-License-Identifier: GPL-2.0-only
/*
 * Stress test of the VFIO device cdev, /dev/vfio/devices/vfioN: threads race
 * on one device and its iommufd, the way a VMM's threads can.
 *
 * iommufd calls a driver's dma_unmap on IOMMU_IOAS_UNMAP, on DETACH, on a
 * replace onto another IOAS and on unbind, at any time while the device is
 * bound and concurrently with the driver's own DMA paths. When dma_unmap
 * returns, the driver must hold no pin in the range; iommufd WARNs and leaks
 * the pinned pages otherwise. The uAPI conformance test calls one thing at
 * a time and cannot see that; this test runs, on one device at a time,
 *
 *   attach        ATTACH to IOAS B (replacing IOAS A), for a physical device
 *                 ATTACH to an HWPT from IOMMU_HWPT_ALLOC, DETACH, ATTACH to
 *                 IOAS A again
 *   map           IOMMU_IOAS_UNMAP and IOMMU_IOAS_MAP of a page of user
 *                 memory at the test IOVA, on IOAS A and on IOAS B
 *   dma, pin-rd,  (emulated devices) reads and writes of the device fd at
 *   pin-wr        that IOVA: through vfio_dma_rw() (region 0) and through
 *                 vfio_pin_pages() (region 1)
 *   second-open   open() of the device's cdev and BIND, which must fail
 *                 with EINVAL while the device is bound, then ATTACH and
 *                 read() on that unbound fd, which must fail with EINVAL
 *   irq           (emulated devices) VFIO_DEVICE_SET_IRQS of an eventfd of
 *                 its own for the doorbell, and of none, in turn
 *   doorbell      (emulated devices) rings of the doorbell, which signal
 *                 whatever eventfd is set, and VFIO_DEVICE_RESET
 *
 * in rounds of a fixed number of attach and map cycles. Every call must
 * succeed, or fail with an errno the race explains: DMA gets ENOENT while
 * the device is detached or nothing is mapped at the IOVA, and EINVAL while
 * an unmap of the IOVA is in progress. After each round the device is
 * detached, or its fd closed while it is attached, every HWPT and IOAS must
 * destroy with IOMMU_DESTROY returning 0, and the device must bind again to
 * a fresh iommufd, attach and reach memory mapped there. A test fails, too,
 * if the kernel logged a WARNING, BUG, lockdep, KASAN, UBSAN or kmemleak
 * report (/dev/kmsg) while it ran.
 *
 * The devices are those of the VFIO sample drivers, found through the
 * driver of /sys/class/vfio-dev/vfioN/device, as vfio_cdev_uapi_test finds
 * them, and on QEMU's x86_64 guests the edu device bound to vfio-pci
 * (variant vfio_pci, behind a virtual IOMMU; exclude it elsewhere with
 * "-v" of the other variants or "-V vfio_pci"); a variant whose device is
 * missing is skipped. Needs CONFIG_VFIO_DEVICE_CDEV, CONFIG_IOMMUFD_TEST
 * and CONFIG_SAMPLE_VFIO_DEVICES built in with the VFIO samples, a
 * kernel booted with vfio_sample_devices.count=1 (and
 * vfio_pci.ids=1234:11e8 on QEMU with "-device edu") and devtmpfs on /dev.
 * As root:
 *
 *	./vfio_cdev_stress_test
 */
#include <pthread.h>

#include "../kselftest_harness.h"
#include "vfio_cdev_util.h"

/*
 * Rounds of each test, and the attach and map cycles of a round: a test
 * takes about a second under UML (one CPU, no kernel preemption), where
 * threads interleave at the scheduler tick and wherever a call sleeps.
 */
#define ROUNDS			4
#define CYCLES			1000
/* Upper bound of the calls of a thread that runs until a round ends */
#define MAX_CALLS		100000
/* Seconds a test may take */
#define TIMEOUT			120

/* The threads of a round */

/* Outcomes of a read or write of an emulated device */
enum {
	DMA_DONE,	/* all bytes copied */
	DMA_ENOENT,	/* detached, or nothing mapped at the IOVA */
	DMA_EINVAL,	/* an unmap of the IOVA is in progress */
	NR_DMA_RESULTS
};

/* What the threads of a round share */
struct stress {
	const struct vfio_dut *d;
	__u32 ioas[2];			/* IOAS A and IOAS B */
	__u32 hwpt;			/* physical: an HWPT of IOAS A */
	struct iommu *other;		/* another iommufd to BIND to */
	unsigned char *mem;		/* a page mapped at TEST_IOVA */
	size_t page;
	pthread_barrier_t start;
	int stop;
};

struct worker {
	const char *name;
	void *(*fn)(void *arg);
	int region;			/* DMA workers: the region */
	bool bounded;			/* runs its cycles; the others stop */
	struct stress *s;
	pthread_t thread;
	unsigned long cycles;		/* of this round */
	unsigned long total;		/* of every round */
	unsigned long dma[NR_DMA_RESULTS];
	/* The first call that went wrong, what it returned and its errno */
	const char *failed;
	long ret;
	int err;
};

static bool stopped(struct stress *s)
{
	return __atomic_load_n(&s->stop, __ATOMIC_RELAXED);
}

static void *worker_fail(struct worker *w, const char *what, long ret)
{
	w->failed = what;
	w->ret = ret;
	w->err = ret == -1 ? errno : 0;
	__atomic_store_n(&w->s->stop, 1, __ATOMIC_RELAXED);
	return NULL;
}

/* Whether @w is to do another cycle */
static bool worker_runs(struct worker *w)
{
	return w->cycles < (w->bounded ? CYCLES : MAX_CALLS) &&
	       !stopped(w->s);
}

/* ATTACH to @pt_id, which must come back as @want (0: anything else) */
static bool attach_to(struct worker *w, __u32 pt_id, __u32 want,
		      const char *what)
{
	__u32 id = pt_id;
	int ret;

	ret = vfio_attach(w->s->d->fd, &id);
	if (ret) {
		worker_fail(w, what, ret);
		return false;
	}
	if (want ? id != want : id == pt_id) {
		worker_fail(w, what, id);
		return false;
	}
	return true;
}

/*
 * Replace IOAS A with IOAS B, then (physical) with an HWPT, DETACH and
 * attach to IOAS A again. An emulated device gets the IOAS id back, a
 * physical one the id of an HWPT made for it.
 */
static void *attach_worker(void *arg)
{
	struct worker *w = arg;
	struct stress *s = w->s;
	bool emulated = s->d->emulated;
	int ret;

	pthread_barrier_wait(&s->start);
	while (worker_runs(w)) {
		if (!attach_to(w, s->ioas[1], emulated ? s->ioas[1] : 0,
			       "ATTACH replacing IOAS A with IOAS B"))
			return NULL;
		if (!emulated && !attach_to(w, s->hwpt, s->hwpt,
					    "ATTACH replacing IOAS B with an HWPT"))
			return NULL;
		ret = vfio_detach(s->d->fd);
		if (ret)
			return worker_fail(w, "DETACH", ret);
		if (!attach_to(w, s->ioas[0], emulated ? s->ioas[0] : 0,
			       "ATTACH to IOAS A"))
			return NULL;
		w->cycles++;
	}
	return NULL;
}

/* IOMMU_IOAS_UNMAP and IOMMU_IOAS_MAP of the page on IOAS A, then B */
static void *map_worker(void *arg)
{
	struct worker *w = arg;
	struct stress *s = w->s;
	__u64 len;
	int i, ret;

	pthread_barrier_wait(&s->start);
	while (worker_runs(w)) {
		for (i = 0; i < 2; i++) {
			ret = dut_unmap(s->d, s->ioas[i], s->page, TEST_IOVA,
					&len);
			if (ret)
				return worker_fail(w, "IOMMU_IOAS_UNMAP", ret);
			if (len != s->page)
				return worker_fail(w, "IOMMU_IOAS_UNMAP length",
						   len);
			ret = dut_map(s->d, s->ioas[i], s->mem, s->page,
				      TEST_IOVA);
			if (ret)
				return worker_fail(w, "IOMMU_IOAS_MAP", ret);
		}
		w->cycles++;
	}
	return NULL;
}

/*
 * Reads and writes, in turn, of DMA_LEN bytes at the test IOVA through the
 * worker's region, at offsets that go through the page
 */
static void *dma_worker(void *arg)
{
	struct worker *w = arg;
	struct stress *s = w->s;
	unsigned char buf[DMA_LEN];
	__u64 iova;
	ssize_t ret;

	pthread_barrier_wait(&s->start);
	while (worker_runs(w)) {
		iova = TEST_IOVA + (w->cycles * DMA_LEN) % s->page;
		if (w->cycles & 1) {
			fill(buf, sizeof(buf), w->cycles);
			ret = dma_write(s->d->fd, w->region, iova, buf,
					sizeof(buf));
		} else {
			ret = dma_read(s->d->fd, w->region, iova, buf,
				       sizeof(buf));
		}
		if (ret == sizeof(buf))
			w->dma[DMA_DONE]++;
		else if (ret == -1 && errno == ENOENT)
			w->dma[DMA_ENOENT]++;
		else if (ret == -1 && errno == EINVAL)
			w->dma[DMA_EINVAL]++;
		else
			return worker_fail(w, w->cycles & 1 ? "pwrite" : "pread",
					   ret);
		w->cycles++;
	}
	return NULL;
}

/*
 * A second open of the bound device: BIND fails with EINVAL, to its iommufd
 * and to another one, and the unbound fd can neither ATTACH nor read
 */
static void *second_open_worker(void *arg)
{
	struct worker *w = arg;
	struct stress *s = w->s;
	unsigned char buf[DMA_LEN];
	int fd, iommufd, ret;
	__u32 pt_id;

	pthread_barrier_wait(&s->start);
	while (worker_runs(w)) {
		fd = open(s->d->cdev, O_RDWR);
		if (fd < 0)
			return worker_fail(w, "open", fd);
		iommufd = w->cycles & 1 ? s->other->iommufd : s->d->iommufd;
		ret = vfio_bind(fd, iommufd, NULL);
		if (ret != -1 || errno != EINVAL) {
			close(fd);
			return worker_fail(w, "BIND", ret);
		}
		pt_id = s->ioas[0];
		ret = vfio_attach(fd, &pt_id);
		if (ret != -1 || errno != EINVAL) {
			close(fd);
			return worker_fail(w, "ATTACH of the unbound fd", ret);
		}
		ret = dma_read(fd, DMA_REGION_RW, TEST_IOVA, buf, sizeof(buf));
		if (ret != -1 || errno != EINVAL) {
			close(fd);
			return worker_fail(w, "pread of the unbound fd", ret);
		}
		ret = close(fd);
		if (ret)
			return worker_fail(w, "close", ret);
		w->cycles++;
	}
	return NULL;
}

/*
 * The doorbell's eventfd set and removed in turn, while the doorbell
 * worker rings: the device must never signal an eventfd it dropped
 */
static void *irq_worker(void *arg)
{
	struct worker *w = arg;
	struct stress *s = w->s;
	int efd, ret;

	efd = eventfd(0, EFD_NONBLOCK);
	if (efd < 0)
		return worker_fail(w, "eventfd", efd);
	pthread_barrier_wait(&s->start);
	while (worker_runs(w)) {
		ret = set_trigger(s->d->fd, IRQ_DOORBELL,
				  w->cycles & 1 ? -1 : efd);
		if (ret) {
			close(efd);
			return worker_fail(w, "SET_IRQS", ret);
		}
		eventfd_count(efd);
		w->cycles++;
	}
	close(efd);
	return NULL;
}

/* Rings of the doorbell, and a reset every 64 of them */
static void *doorbell_worker(void *arg)
{
	struct worker *w = arg;
	struct stress *s = w->s;
	ssize_t ret;

	pthread_barrier_wait(&s->start);
	while (worker_runs(w)) {
		if (w->cycles % 64 == 63) {
			ret = ioctl(s->d->fd, VFIO_DEVICE_RESET);
			if (ret)
				return worker_fail(w, "RESET", ret);
		} else {
			ret = ring_doorbell(s->d->fd);
			if (ret != sizeof(__u32))
				return worker_fail(w, "pwrite of the doorbell",
						   ret);
		}
		w->cycles++;
	}
	return NULL;
}

/* Test helpers that assert */

/* Open the cdev and BIND it to the device's iommufd */
static void dut_open_bind(struct __test_metadata *_metadata,
			  struct vfio_dut *d)
{
	d->fd = open(d->cdev, O_RDWR);
	ASSERT_LE(0, d->fd) TH_LOG("cannot open %s", d->cdev);
	dut_bind(_metadata, d);
}

/* Close the device fd, which unbinds it; its id is gone */
static void dut_close(struct __test_metadata *_metadata, struct vfio_dut *d)
{
	ASSERT_EQ(0, close(d->fd));
	d->fd = -1;
	ASSERT_ERRNO(ENOENT, iommufd_destroy(d->iommufd, d->devid));
}

/*
 * The bound device attaches to a new IOAS, reaches a page mapped there (its
 * mock IOMMU domain maps it, the edu device copies within it, or it reads
 * and writes it through both regions), detaches, and the IOAS goes.
 */
static void check_device_works(struct __test_metadata *_metadata,
			       struct vfio_dut *d)
{
	unsigned char *mem = guest_mem(_metadata, page_size());
	__u32 ioas_id, pt_id;
	__u64 len;

	ioas_id = new_ioas(_metadata, d->iommufd);
	pt_id = ioas_id;
	ASSERT_EQ(0, vfio_attach(d->fd, &pt_id));
	ASSERT_EQ(d->emulated, pt_id == ioas_id);
	ASSERT_EQ(0, dut_map(d, ioas_id, mem, page_size(), TEST_IOVA));
	check_device_sees(_metadata, d, pt_id, mem, page_size());
	ASSERT_EQ(0, vfio_detach(d->fd));
	ASSERT_EQ(0, dut_unmap(d, ioas_id, page_size(), TEST_IOVA, &len));
	ASSERT_EQ(page_size(), len);
	ASSERT_EQ(0, iommufd_destroy(d->iommufd, ioas_id));
	ASSERT_EQ(0, munmap(mem, page_size()));
}

/* The threads, for a physical or an emulated device */
static const struct worker workers[] = {
	{ .name = "attach", .fn = attach_worker, .bounded = true },
	{ .name = "map", .fn = map_worker, .bounded = true },
	{ .name = "second-open", .fn = second_open_worker },
	{ .name = "dma", .fn = dma_worker, .region = DMA_REGION_RW },
	{ .name = "pin-rd", .fn = dma_worker, .region = DMA_REGION_PIN },
	{ .name = "pin-wr", .fn = dma_worker, .region = DMA_REGION_PIN },
	{ .name = "irq", .fn = irq_worker },
	{ .name = "doorbell", .fn = doorbell_worker },
};

#define NR_WORKERS		ARRAY_SIZE(workers)
#define NR_PHYSICAL_WORKERS	3	/* no DMA through the fd */

/*
 * A bound device, attached to IOAS A; the page mapped at TEST_IOVA in
 * IOAS A and IOAS B; for a physical device an HWPT of IOAS A
 */
static void round_setup(struct __test_metadata *_metadata, struct stress *s,
			struct vfio_dut *d)
{
	__u32 pt_id;

	s->ioas[0] = new_ioas(_metadata, d->iommufd);
	s->ioas[1] = new_ioas(_metadata, d->iommufd);
	ASSERT_EQ(0, dut_map(d, s->ioas[0], s->mem, s->page, TEST_IOVA));
	ASSERT_EQ(0, dut_map(d, s->ioas[1], s->mem, s->page, TEST_IOVA));
	s->hwpt = 0;
	if (!d->emulated)
		ASSERT_EQ(0, hwpt_alloc(d->iommufd, d->devid, s->ioas[0],
					&s->hwpt));
	pt_id = s->ioas[0];
	ASSERT_EQ(0, vfio_attach(d->fd, &pt_id));
	s->other = iommu_init(MODE_IOMMUFD);
	s->stop = 0;
}

/* What each thread did, in every round up to the last one it ran */
static void log_totals(struct __test_metadata *_metadata,
		       const struct worker *w, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (w[i].fn != dma_worker) {
			TH_LOG("%-11s %6lu cycles", w[i].name, w[i].total);
			continue;
		}
		TH_LOG("%-11s %6lu calls: %lu done, %lu ENOENT, %lu EINVAL",
		       w[i].name, w[i].total, w[i].dma[DMA_DONE],
		       w[i].dma[DMA_ENOENT], w[i].dma[DMA_EINVAL]);
	}
}

/* Run the threads until the bounded ones have done their cycles */
static void round_run(struct __test_metadata *_metadata, struct stress *s,
		      struct worker *w, size_t n)
{
	bool failed = false;
	size_t i;

	ASSERT_EQ(0, pthread_barrier_init(&s->start, NULL, n + 1));
	for (i = 0; i < n; i++) {
		w[i].s = s;
		w[i].cycles = 0;
		ASSERT_EQ(0, pthread_create(&w[i].thread, NULL, w[i].fn,
					    &w[i]));
	}
	pthread_barrier_wait(&s->start);
	for (i = 0; i < n; i++)
		if (w[i].bounded)
			ASSERT_EQ(0, pthread_join(w[i].thread, NULL));
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < n; i++)
		if (!w[i].bounded)
			ASSERT_EQ(0, pthread_join(w[i].thread, NULL));
	ASSERT_EQ(0, pthread_barrier_destroy(&s->start));

	for (i = 0; i < n; i++) {
		w[i].total += w[i].cycles;
		if (!w[i].failed)
			continue;
		TH_LOG("%s: %s returned %ld, errno %d (%s), after %lu cycles",
		       w[i].name, w[i].failed, w[i].ret, w[i].err,
		       strerror(w[i].err), w[i].cycles);
		failed = true;
	}
	if (failed)
		log_totals(_metadata, w, n);
	ASSERT_FALSE(failed);
}

/*
 * End a round: DETACH, or close the device fd while it is attached; then
 * every HWPT and IOAS destroys, and the device binds again to a fresh
 * iommufd and works
 */
static void round_end(struct __test_metadata *_metadata, struct stress *s,
		      struct vfio_dut *d, bool close_attached)
{
	int i;

	if (close_attached) {
		dut_close(_metadata, d);
	} else {
		ASSERT_EQ(0, vfio_detach(d->fd));
		ASSERT_ERRNO(EBUSY, iommufd_destroy(d->iommufd, d->devid));
	}
	if (s->hwpt)
		ASSERT_EQ(0, iommufd_destroy(d->iommufd, s->hwpt));
	for (i = 0; i < 2; i++) {
		ASSERT_FALSE(ioas_attached(_metadata, d->iommufd, s->ioas[i]));
		ASSERT_EQ(0, iommufd_destroy(d->iommufd, s->ioas[i]));
	}
	if (!close_attached)
		dut_close(_metadata, d);

	iommu_cleanup(s->other);
	dut_close_iommufd(d);
	dut_open_iommufd(d);
	dut_open_bind(_metadata, d);
	check_device_works(_metadata, d);
}

/* ROUNDS rounds of the threads on the device, each ended as @close_attached */
static void stress_device(struct __test_metadata *_metadata,
			  struct vfio_dut *d, bool close_attached)
{
	size_t n = d->emulated ? NR_WORKERS : NR_PHYSICAL_WORKERS;
	struct worker w[NR_WORKERS];
	struct stress s = { .d = d, .page = page_size() };
	double start = now();
	int round;

	memcpy(w, workers, sizeof(w));
	s.mem = guest_mem(_metadata, page_size());
	dut_open_bind(_metadata, d);
	for (round = 0; round < ROUNDS; round++) {
		round_setup(_metadata, &s, d);
		round_run(_metadata, &s, w, n);
		round_end(_metadata, &s, d, close_attached);
	}

	TH_LOG("%s: %d rounds in %.1f s", d->cdev, ROUNDS, now() - start);
	log_totals(_metadata, w, n);
}

FIXTURE(vfio_cdev_stress)
{
	struct vfio_dut d;
	int kmsg;
};

FIXTURE_VARIANT(vfio_cdev_stress)
{
	const char *driver;
	bool emulated;
};

FIXTURE_VARIANT_ADD(vfio_cdev_stress, c_physical)
{
	.driver = "vfio-sample-phys",
	.emulated = false,
};

FIXTURE_VARIANT_ADD(vfio_cdev_stress, c_emulated)
{
	.driver = "vfio-sample-emul",
	.emulated = true,
};

FIXTURE_VARIANT_ADD(vfio_cdev_stress, vfio_pci)
{
	.driver = EDU_DRIVER,
	.emulated = false,
};

FIXTURE_SETUP(vfio_cdev_stress)
{
	struct vfio_dut *d = &self->d;

	self->kmsg = -1;
	if (dut_init(d, variant->driver, variant->emulated))
		SKIP(return, "no VFIO device of driver %s: needs %s",
		     variant->driver, dut_needs(d));
	self->kmsg = kmsg_open(_metadata);
	dut_open_iommufd(d);
}

FIXTURE_TEARDOWN(vfio_cdev_stress)
{
	struct vfio_dut *d = &self->d;

	if (d->fd >= 0)
		close(d->fd);
	dut_close_iommufd(d);
	if (self->kmsg >= 0)
		EXPECT_EQ(0, kmsg_reports(_metadata, self->kmsg))
			TH_LOG("the kernel reported bugs during the test");
}

/*
 * The threads race; after each round DETACH, destroy every HWPT and
 * IOAS, close the device fd and bind it to a fresh iommufd
 */
TEST_F_TIMEOUT(vfio_cdev_stress, race_then_detach, TIMEOUT)
{
	stress_device(_metadata, &self->d, false);
}

/*
 * The threads race; after each round close the device fd while it is
 * attached, destroy every HWPT and IOAS and bind it to a fresh iommufd
 */
TEST_F_TIMEOUT(vfio_cdev_stress, race_then_close_attached, TIMEOUT)
{
	stress_device(_metadata, &self->d, true);
}

TEST_HARNESS_MAIN
