/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Factories of the VFIO sample drivers, so that tests can make devices of
 * them: the VFIO iommufd conformance KUnit suite runs its cases on each.
 */
#ifndef __SAMPLES_VFIO_SAMPLE_H
#define __SAMPLES_VFIO_SAMPLE_H

#include <linux/types.h>

struct vfio_device;

/*
 * File offsets of an emulated sample device: (region << shift) | iova, see
 * samples/vfio/vfio_sample_emul.c.
 */
#define VFIO_SAMPLE_REGION_SHIFT	40
#define VFIO_SAMPLE_REGION_DMA_RW	0
#define VFIO_SAMPLE_REGION_PIN		1
/*
 * Two pages: the mailbox, which user space maps (the region's one sparse
 * mmap area) or reads and writes through the file, then the registers.
 */
#define VFIO_SAMPLE_REGION_MAILBOX	2
#define VFIO_SAMPLE_NUM_REGIONS		3
/* Register at the start of the registers' page: writing rings the doorbell */
#define VFIO_SAMPLE_REG_DOORBELL	0
/* Interrupts, one of each: a rung doorbell, and a request to close */
#define VFIO_SAMPLE_IRQ_DOORBELL	0
#define VFIO_SAMPLE_IRQ_REQ		1
#define VFIO_SAMPLE_NUM_IRQS		2

/**
 * struct vfio_sample_unmap - A dma_unmap call an emulated sample received
 * @iova: Start of the range to unmap
 * @length: Length of the range
 */
struct vfio_sample_unmap {
	u64 iova;
	u64 length;
};

struct vfio_device *vfio_sample_phys_create(struct vfio_device *group_peer);
void vfio_sample_phys_destroy(struct vfio_device *vdev);

struct vfio_device *vfio_sample_emul_create(struct vfio_device *group_peer);
void vfio_sample_emul_destroy(struct vfio_device *vdev);
unsigned int vfio_sample_emul_unmaps(struct vfio_device *vdev,
				     struct vfio_sample_unmap *last);

#endif /* __SAMPLES_VFIO_SAMPLE_H */
