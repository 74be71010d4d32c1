// SPDX-License-Identifier: GPL-2.0
/*
 * What DMA through the emulated VFIO sample devices costs, C and Rust,
 * measured from user space in one boot.
 *
 * The devices are those vfio_sample_devices.count=1 creates, found as the
 * uAPI test finds them, with its helpers (vfio_cdev_util.h): the driver of
 * /sys/class/vfio-dev/vfioN/device is vfio-sample-emul (C) or
 * rust-vfio-emul (Rust). Each is bound to one iommufd and attached to one
 * IOAS that maps a page of this program's memory. A pread() of an emulated
 * sample's fd at file offset (region << 40) | iova makes the device read
 * guest memory: region 0 through vfio_dma_rw(), region 1 through
 * vfio_pin_pages() of the page.
 *
 * Each round times ITERATIONS preads of DMA_LEN bytes per device and
 * region, the devices in alternating order from round to round, after the
 * page got a new pattern; the bytes read must be that pattern. The median
 * round counts: many short rounds keep a round that the host preempts from
 * moving it. Lines, one per device and region, then the Rust/C ratios of
 * the medians (with their difference, and the median and quartiles of the
 * ratios of the rounds) and the ratio of their sums:
 *
 *	vfio_dma_bench: c-emulated dma_rw 6103 ns per 64-byte pread (...)
 *	...
 *	vfio_dma_bench: ratio dma_rw 1.008 rust-emulated/c-emulated (+46 ns; ...)
 *	vfio_dma_bench: ratio pin 1.007 rust-emulated/c-emulated (+51 ns; ...)
 *	vfio_dma_bench: ratio total 1.007 rust-emulated/c-emulated (...)
 *
 * and a line "vfio_dma_bench: warning: ..." when the rounds of a device
 * spread so far that the host must have been busy (NOISY_SPREAD).
 *
 * Under UML most of a pread is the system call itself, the same for both
 * drivers, so a ratio understates the difference of the drivers' own paths.
 *
 * Exits 1 when a device is missing or a step or a read fails (with a line
 * "vfio_dma_bench: error: ..."), 2 on bad arguments.
 *
 * Build, against a kernel tree with the series applied (for the header)
 * and the objects of its libvfio (make -C tools/testing/selftests/vfio
 * OUTPUT=<out>):
 *	V=<kernel tree>/tools/testing/selftests/vfio
 *	gcc -static -O2 -Wall -I <kernel tree>/tools/include \
 *		-isystem <uAPI headers> -I $V -I $V/lib/include \
 *		-o vfio-dma-bench vfio-dma-bench.c \
 *		$(find <out>/libvfio -name '*.o') -luuid
 * Run, as root: vfio-dma-bench [-n ITERATIONS] [-r ROUNDS]
 */
#include <stdarg.h>
#include <stdlib.h>

/* In the kernel tree's tools/testing/selftests/vfio/ */
#include "vfio_cdev_util.h"

#define PREFIX		"vfio_dma_bench: "
#include "vfio-bench.h"

/* The DMA windows of an emulated sample device: DMA_REGION_RW and _PIN */
#define NR_REGIONS		2

/*
 * The page of user memory is mapped at TEST_IOVA, the uAPI test's IOVA in
 * the mock IOMMU's aperture; an emulated device has no IOMMU domain, so any
 * IOVA the IOAS accepts would do. Each pread() reads DMA_LEN bytes of it,
 * DMA_OFFSET bytes into the page.
 */
#define DMA_OFFSET	128

#define MAX_ROUNDS	4001
/* preads per device and region before the first round */
#define WARMUP		1000
/*
 * Rounds of one device and region whose quartiles are further apart than
 * this factor: the host was busy (under UML, another UML on the same CPUs
 * can make every system call ten times slower for a while), and the median
 * may fall into either regime. The ratio of each round, C and Rust timed
 * one after the other, holds up better.
 */
#define NOISY_SPREAD	1.25

static const char *const region_names[NR_REGIONS] = { "dma_rw", "pin" };

struct bench_dev {
	const char *name;
	const char *driver;
	struct vfio_dut dut;			/* its cdev and fd */
	double ns[NR_REGIONS][MAX_ROUNDS];	/* per pread, per round */
};

static struct bench_dev devs[] = {
	{ .name = "c-emulated", .driver = "vfio-sample-emul",
	  .dut = { .emulated = true, .fd = -1 } },
	{ .name = "rust-emulated", .driver = "rust-vfio-emul",
	  .dut = { .emulated = true, .fd = -1 } },
};

#define NR_DEVS		ARRAY_SIZE(devs)

/* Open @d, bind it to @iommufd and attach it to @ioas_id */
static void setup_device(struct bench_dev *d, int iommufd, __u32 ioas_id)
{
	__u32 pt_id = ioas_id;

	if (find_vfio_device(d->driver, &d->dut))
		fail("no VFIO device of driver %s (%s): boot with vfio_sample_devices.count=1",
		     d->driver, d->name);
	d->dut.fd = open(d->dut.cdev, O_RDWR);
	if (d->dut.fd < 0)
		fail("%s: open %s: %s", d->name, d->dut.cdev, strerror(errno));
	if (vfio_bind(d->dut.fd, iommufd, NULL))
		fail("%s: VFIO_DEVICE_BIND_IOMMUFD: %s", d->name,
		     strerror(errno));
	if (vfio_attach(d->dut.fd, &pt_id))
		fail("%s: VFIO_DEVICE_ATTACH_IOMMUFD_PT: %s", d->name,
		     strerror(errno));
}

/*
 * Time @iterations preads of @region of @d, in ns per pread; what they read
 * must be @expect.
 */
static double time_reads(struct bench_dev *d, int region,
			 unsigned int iterations, const unsigned char *expect)
{
	unsigned char buf[DMA_LEN];
	unsigned int i;
	double start;
	ssize_t ret;

	memset(buf, 0, sizeof(buf));
	start = now_ns();
	for (i = 0; i < iterations; i++) {
		ret = dma_read(d->dut.fd, region, TEST_IOVA + DMA_OFFSET, buf,
			       DMA_LEN);
		if (ret != DMA_LEN)
			fail("%s %s: pread gave %zd (%s)", d->name,
			     region_names[region], ret,
			     ret < 0 ? strerror(errno) : "short read");
	}
	start = now_ns() - start;
	if (memcmp(buf, expect, DMA_LEN))
		fail("%s %s: the device read other bytes than the page holds",
		     d->name, region_names[region]);
	return start / iterations;
}

/* Give the bytes the devices read a pattern of its own for round @r */
static void fill_round(unsigned char *page, unsigned int r)
{
	fill(page + DMA_OFFSET, DMA_LEN, 1 + r * 7);
}

static void bad_arguments(const char *prog)
{
	fprintf(stderr, "usage: %s [-n ITERATIONS] [-r ROUNDS (1 to %d)]\n",
		prog, MAX_ROUNDS);
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned int iterations = 50, rounds = 2001, r, k;
	double med[NR_DEVS][NR_REGIONS], sum[NR_DEVS] = { 0 };
	double ratios[MAX_ROUNDS], q1, q3, mid;
	unsigned int noisy = 0;
	struct dma_region mapped = { .iova = TEST_IOVA };
	struct iommu *iommu;
	unsigned char *page;
	int opt, region;

	while ((opt = getopt(argc, argv, "n:r:")) != -1) {
		switch (opt) {
		case 'n':
			iterations = strtoul(optarg, NULL, 0);
			break;
		case 'r':
			rounds = strtoul(optarg, NULL, 0);
			break;
		default:
			bad_arguments(argv[0]);
		}
	}
	if (optind != argc || !iterations || !rounds || rounds > MAX_ROUNDS)
		bad_arguments(argv[0]);
	setvbuf(stdout, NULL, _IOLBF, 0);

	page = mmap(NULL, page_size(), PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	memset(page, 0, page_size());

	/* An iommufd with an IOAS that maps the page: libvfio's */
	iommu = iommu_init(MODE_IOMMUFD);
	mapped.vaddr = page;
	mapped.size = page_size();
	if (__iommu_map(iommu, &mapped))
		fail("IOMMU_IOAS_MAP: %s", strerror(errno));
	for (k = 0; k < NR_DEVS; k++)
		setup_device(&devs[k], iommu->iommufd, iommu->ioas_id);

	/* A warm-up round, not counted */
	fill_round(page, rounds);
	for (region = 0; region < NR_REGIONS; region++)
		for (k = 0; k < NR_DEVS; k++)
			time_reads(&devs[k], region, WARMUP, page + DMA_OFFSET);

	for (r = 0; r < rounds; r++) {
		fill_round(page, r);
		for (region = 0; region < NR_REGIONS; region++)
			for (k = 0; k < NR_DEVS; k++) {
				struct bench_dev *d = &devs[(k + r) % NR_DEVS];

				d->ns[region][r] = time_reads(d, region,
							      iterations,
							      page + DMA_OFFSET);
			}
	}

	for (k = 0; k < NR_DEVS; k++)
		for (region = 0; region < NR_REGIONS; region++) {
			med[k][region] = median(devs[k].ns[region], rounds,
						&q1, &q3);
			sum[k] += med[k][region];
			printf(PREFIX "%s %s %.0f ns per %d-byte pread (median of %u rounds of %u; quartiles %.0f to %.0f)\n",
			       devs[k].name, region_names[region],
			       med[k][region], DMA_LEN, rounds, iterations,
			       q1, q3);
			noisy += q3 > q1 * NOISY_SPREAD;
		}
	for (region = 0; region < NR_REGIONS; region++) {
		for (r = 0; r < rounds; r++)
			ratios[r] = devs[1].ns[region][r] /
				    devs[0].ns[region][r];
		mid = median(ratios, rounds, &q1, &q3);
		printf(PREFIX "ratio %s %.3f %s/%s (%+.0f ns; per round: median %.3f, quartiles %.3f to %.3f)\n",
		       region_names[region], med[1][region] / med[0][region],
		       devs[1].name, devs[0].name,
		       med[1][region] - med[0][region], mid, q1, q3);
	}
	printf(PREFIX "ratio total %.3f %s/%s (sum of the regions' medians)\n",
	       sum[1] / sum[0], devs[1].name, devs[0].name);
	if (noisy)
		printf(PREFIX "warning: busy host: quartiles over %.2fx apart in %u rows, trust the per-round ratios over the medians\n",
		       NOISY_SPREAD, noisy);

	for (k = 0; k < NR_DEVS; k++)
		close(devs[k].dut.fd);
	iommu_cleanup(iommu);
	return 0;
}
