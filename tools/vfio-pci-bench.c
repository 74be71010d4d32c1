// SPDX-License-Identifier: GPL-2.0
/*
 * What the Rust vfio-pci variant driver costs against vfio-pci, on QEMU's
 * edu device in an x86_64 guest, measured from user space in one boot.
 *
 * Each round binds the device to each driver in turn (vfio-pci and
 * rust_vfio_pci_edu, in alternating order from round to round), by running
 * the rebind program given (tools/pci-rebind.c); opens its cdev, binds it
 * to an iommufd (libvfio's) with IOAS A and a second IOAS B that both map
 * a page of this program's memory at TEST_IOVA, and times
 *
 *   attach   CYCLES cycles of ATTACH to IOAS A, ATTACH to IOAS B (a
 *            replace) and DETACH, in ns per cycle;
 *   dma      DMAS round trips of the device's own DMA (vfio_cdev_util.h's
 *            edu_copy(): a pattern copied from the page into the device
 *            and back to another part of the page, which must then hold
 *            it), in ns per round trip. The edu device waits 100 ms of
 *            the guest's clock before each DMA, so this is mostly that.
 *
 * The median round counts. Lines, one per driver and measure, then the
 * ratios rust_vfio_pci_edu/vfio-pci of the medians:
 *
 *	vfio_pci_bench: vfio-pci attach 812345 ns per cycle (...)
 *	...
 *	vfio_pci_bench: ratio attach 1.004 rust_vfio_pci_edu/vfio-pci (...)
 *	vfio_pci_bench: ratio dma 1.000 rust_vfio_pci_edu/vfio-pci (...)
 *
 * Exits 1 when a step fails (with a line "vfio_pci_bench: error: ..."), 2
 * on bad arguments.
 *
 * Build as tools/vfio-dma-bench.c (the same header and libvfio objects).
 * Run, as root: vfio-pci-bench BDF REBIND CYCLES ROUNDS DMAS
 */
#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>

/* In the kernel tree's tools/testing/selftests/vfio/ */
#include "vfio_cdev_util.h"

#define PREFIX		"vfio_pci_bench: "
#include "vfio-bench.h"

#define MAX_ROUNDS	101
/* Bytes of a DMA round trip, and where in the page it lands */
#define DMA_BYTES	256
#define DMA_BACK	2048

enum { ATTACH, DMA, NR_MEASURES };

static const char *const measure_names[NR_MEASURES] = { "attach", "dma" };
static const char *const measure_units[NR_MEASURES] = {
	"cycle of ATTACH, replace and DETACH", "DMA round trip",
};

struct bench_driver {
	const char *name;
	double ns[NR_MEASURES][MAX_ROUNDS];
};

static struct bench_driver drivers[] = {
	{ .name = EDU_DRIVER },
	{ .name = RUST_EDU_DRIVER },
};

/* Run @rebind @bdf @driver, which must exit 0 */
static void rebind(const char *rebind, const char *bdf, const char *driver)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (!pid) {
		execl(rebind, rebind, bdf, driver, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		fail("%s %s %s failed", rebind, bdf, driver);
}

/* One round of driver @drv: both measures, as ns per cycle or trip */
static void run_round(struct bench_driver *drv, const char *bdf,
		      unsigned char *mem, int cycles, int dmas, int round)
{
	struct vfio_dut d = { .edu = true, .fd = -1, .iommufd = -1 };
	__u32 ioas[2], pt_id;
	unsigned char want[DMA_BYTES];
	double start;
	int i;

	setenv("VFIO_SELFTESTS_BDF", bdf, 1);
	if (find_pci_device(&d, drv->name))
		fail("%s is not bound to %s", bdf, drv->name);
	dut_open_iommufd(&d);
	d.fd = open(d.cdev, O_RDWR);
	if (d.fd < 0)
		fail("%s: open %s: %s", drv->name, d.cdev, strerror(errno));
	if (vfio_bind(d.fd, d.iommufd, NULL))
		fail("%s: BIND: %s", drv->name, strerror(errno));
	for (i = 0; i < 2; i++)
		if (ioas_alloc(d.iommufd, &ioas[i]) ||
		    dut_map(&d, ioas[i], mem, page_size(), TEST_IOVA))
			fail("%s: IOAS %d: %s", drv->name, i, strerror(errno));

	start = now_ns();
	for (i = 0; i < cycles; i++) {
		pt_id = ioas[0];
		if (vfio_attach(d.fd, &pt_id))
			fail("%s: ATTACH: %s", drv->name, strerror(errno));
		pt_id = ioas[1];
		if (vfio_attach(d.fd, &pt_id))
			fail("%s: replace: %s", drv->name, strerror(errno));
		if (vfio_detach(d.fd))
			fail("%s: DETACH: %s", drv->name, strerror(errno));
	}
	drv->ns[ATTACH][round] = (now_ns() - start) / cycles;

	pt_id = ioas[0];
	if (vfio_attach(d.fd, &pt_id))
		fail("%s: ATTACH: %s", drv->name, strerror(errno));
	start = now_ns();
	for (i = 0; i < dmas; i++) {
		fill(mem, DMA_BYTES, round * dmas + i);
		memcpy(want, mem, DMA_BYTES);
		memset(mem + DMA_BACK, 0, DMA_BYTES);
		if (edu_copy(d.fd, TEST_IOVA, TEST_IOVA + DMA_BACK, DMA_BYTES))
			fail("%s: edu DMA: %s", drv->name, strerror(errno));
		if (memcmp(mem + DMA_BACK, want, DMA_BYTES))
			fail("%s: the DMA round trip lost its data", drv->name);
	}
	drv->ns[DMA][round] = (now_ns() - start) / dmas;
	if (vfio_detach(d.fd))
		fail("%s: DETACH: %s", drv->name, strerror(errno));

	close(d.fd);
	for (i = 0; i < 2; i++)
		iommufd_destroy(d.iommufd, ioas[i]);
	dut_close_iommufd(&d);
}

int main(int argc, char **argv)
{
	int cycles, rounds, dmas, r, i, m;
	double mid[2][NR_MEASURES], q1, q3;
	unsigned char *mem;

	if (argc != 6) {
		fprintf(stderr, "usage: vfio-pci-bench BDF REBIND CYCLES ROUNDS DMAS\n");
		return 2;
	}
	cycles = atoi(argv[3]);
	rounds = atoi(argv[4]);
	dmas = atoi(argv[5]);
	if (cycles < 1 || dmas < 1 || rounds < 1 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "vfio-pci-bench: bad CYCLES, ROUNDS or DMAS\n");
		return 2;
	}
	mem = mmap(NULL, page_size(), PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		fail("mmap: %s", strerror(errno));

	for (r = 0; r < rounds; r++)
		for (i = 0; i < 2; i++) {
			struct bench_driver *drv = &drivers[(r + i) % 2];

			rebind(argv[2], argv[1], drv->name);
			run_round(drv, argv[1], mem, cycles, dmas, r);
		}
	rebind(argv[2], argv[1], EDU_DRIVER);

	for (i = 0; i < 2; i++)
		for (m = 0; m < NR_MEASURES; m++) {
			mid[i][m] = median(drivers[i].ns[m], rounds, &q1, &q3);
			printf(PREFIX "%s %s %.0f ns per %s (median of %d rounds; "
			       "quartiles %.0f, %.0f)\n", drivers[i].name,
			       measure_names[m], mid[i][m], measure_units[m],
			       rounds, q1, q3);
		}
	for (m = 0; m < NR_MEASURES; m++)
		printf(PREFIX "ratio %s %.3f %s/%s (%+.0f ns)\n",
		       measure_names[m], mid[1][m] / mid[0][m],
		       drivers[1].name, drivers[0].name,
		       mid[1][m] - mid[0][m]);
	return 0;
}
