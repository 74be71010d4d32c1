// SPDX-License-Identifier: GPL-2.0-only
/*
 * A libvfio driver for QEMU's edu device (PCI 1234:11e8), a test device
 * that QEMU emulates: with it, vfio_pci_driver_test runs in any QEMU guest
 * with a virtual IOMMU, no hardware needed.
 *
 * The device (QEMU's docs/specs/edu.rst) copies between a bus address and
 * a buffer of its own at EDU_BUF in its address space: written a DMA
 * command, it does the copy when a timer expires (100 ms of the guest's
 * clock), then clears EDU_DMA_RUN. A copy from one IOVA to another is
 * therefore two DMAs, into the buffer and out of it, and memcpy_start()
 * starts the first of them while memcpy_wait() runs the rest. A DMA the
 * IOMMU refuses completes all the same, without data: the device reports
 * no errors. Its one MSI is raised by a write of EDU_IRQ_RAISE.
 *
 * The device masks the bus addresses it uses with its dma_mask property,
 * 28 bits by default: give QEMU "-device edu,dma_mask=..." wide enough for
 * the IOVAs the tests allocate, or a DMA meant for an unmapped IOVA lands
 * on a lower, mapped one.
 */
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <linux/errno.h>
#include <linux/io.h>

#include <libvfio.h>

#include "edu.h"

#define EDU_VENDOR_ID		0x1234
#define EDU_DEVICE_ID		0x11e8

/* Registers of BAR 0 */
#define EDU_ID			0x00	/* 0xRRrr00ed, RR.rr the version */
#define EDU_LIVENESS		0x04	/* reads back the inverse of a write */
#define EDU_IRQ_RAISE		0x60	/* or-ed into the IRQ status */
#define EDU_IRQ_ACK		0x64	/* cleared from the IRQ status */
#define EDU_DMA_SRC		0x80
#define EDU_DMA_DST		0x88
#define EDU_DMA_CNT		0x90
#define EDU_DMA_CMD		0x98
#define EDU_DMA_RUN		0x1
#define EDU_DMA_TO_BUS		0x2	/* out of the buffer, else into it */

#define EDU_ID_MAGIC		0xed
#define EDU_BUF			0x40000
/*
 * The buffer holds 4 KiB, but QEMU 7.2, at least, refuses a DMA that ends
 * at its end (an off-by-one in its range check, which stops the machine):
 * half of it is what one DMA moves here.
 */
#define EDU_DMA_MAX		2048
/* The IRQ status bit send_msi() raises, one the device never sets itself */
#define EDU_IRQ_SEND_MSI	0x1000

/*
 * Copies one memcpy_start() may ask for: each takes two DMAs of 100 ms, so
 * that memcpy_storm stays well inside its 60 s.
 */
#define EDU_MAX_MEMCPY_COUNT	16
/* Seconds one DMA may take: 100 ms of the guest's clock, slow under TCG */
#define EDU_DMA_TIMEOUT		10

/* What memcpy_wait() has left to do of memcpy_start()'s copies */
struct edu_state {
	iova_t src;
	iova_t dst;
	u64 size;
	u64 count;		/* copies not yet written out to dst */
};

static inline struct edu_state *to_edu_state(struct vfio_pci_device *device)
{
	return device->driver.region.vaddr;
}

static inline void *edu_bar(struct vfio_pci_device *device)
{
	return device->bars[0].vaddr;
}

static int edu_probe(struct vfio_pci_device *device)
{
	void *bar = edu_bar(device);
	u32 id;

	if (!vfio_pci_device_match(device, EDU_VENDOR_ID, EDU_DEVICE_ID))
		return -EINVAL;

	VFIO_ASSERT_NOT_NULL(bar);
	id = readl(bar + EDU_ID);
	if ((id & 0xff) != EDU_ID_MAGIC) {
		dev_err(device, "edu: unknown identification 0x%x\n", id);
		return -EINVAL;
	}
	return 0;
}

/* Start one DMA of @size bytes between @iova and the start of the buffer */
static void edu_dma_start(struct vfio_pci_device *device, iova_t iova,
			  u64 size, bool to_bus)
{
	void *bar = edu_bar(device);

	writeq(to_bus ? EDU_BUF : iova, bar + EDU_DMA_SRC);
	writeq(to_bus ? iova : EDU_BUF, bar + EDU_DMA_DST);
	writeq(size, bar + EDU_DMA_CNT);
	writeq(EDU_DMA_RUN | (to_bus ? EDU_DMA_TO_BUS : 0), bar + EDU_DMA_CMD);
}

/* Wait until the DMA in flight is done */
static void edu_dma_wait(struct vfio_pci_device *device)
{
	void *bar = edu_bar(device);
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (readq(bar + EDU_DMA_CMD) & EDU_DMA_RUN) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		VFIO_ASSERT_LT(now.tv_sec - start.tv_sec, EDU_DMA_TIMEOUT,
			       "edu: a DMA did not finish\n");
		usleep(1000);
	}
}

static void edu_init(struct vfio_pci_device *device)
{
	void *bar = edu_bar(device);

	VFIO_ASSERT_GE(device->driver.region.size, sizeof(struct edu_state));

	vfio_pci_config_writew(device, PCI_COMMAND,
			       PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
			       PCI_COMMAND_INTX_DISABLE);

	/* A DMA the last user left running ends before anything else */
	edu_dma_wait(device);
	writel(~0U, bar + EDU_IRQ_ACK);

	writel(0x12345678, bar + EDU_LIVENESS);
	VFIO_ASSERT_EQ(readl(bar + EDU_LIVENESS), ~0x12345678U);

	vfio_pci_msi_enable(device, 0, 1);

	device->driver.msi = 0;
	device->driver.max_memcpy_size = EDU_DMA_MAX;
	device->driver.max_memcpy_count = EDU_MAX_MEMCPY_COUNT;
}

static void edu_remove(struct vfio_pci_device *device)
{
	edu_dma_wait(device);
	writel(~0U, edu_bar(device) + EDU_IRQ_ACK);
	vfio_pci_msi_disable(device);
}

static void edu_memcpy_start(struct vfio_pci_device *device,
			     iova_t src, iova_t dst, u64 size, u64 count)
{
	struct edu_state *edu = to_edu_state(device);

	*edu = (struct edu_state) {
		.src = src,
		.dst = dst,
		.size = size,
		.count = count,
	};
	if (count)
		edu_dma_start(device, src, size, false);
}

static int edu_memcpy_wait(struct vfio_pci_device *device)
{
	struct edu_state *edu = to_edu_state(device);

	while (edu->count) {
		edu_dma_wait(device);
		edu_dma_start(device, edu->dst, edu->size, true);
		edu_dma_wait(device);
		if (--edu->count)
			edu_dma_start(device, edu->src, edu->size, false);
	}
	return 0;
}

static void edu_send_msi(struct vfio_pci_device *device)
{
	void *bar = edu_bar(device);

	/* The device signals its MSI when a raise leaves the status set */
	writel(EDU_IRQ_SEND_MSI, bar + EDU_IRQ_RAISE);
	writel(EDU_IRQ_SEND_MSI, bar + EDU_IRQ_ACK);
}

struct vfio_pci_driver_ops edu_ops = {
	.name = "edu",
	.probe = edu_probe,
	.init = edu_init,
	.remove = edu_remove,
	.memcpy_start = edu_memcpy_start,
	.memcpy_wait = edu_memcpy_wait,
	.send_msi = edu_send_msi,
};
