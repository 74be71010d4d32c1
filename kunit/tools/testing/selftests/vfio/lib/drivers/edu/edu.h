/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef SELFTESTS_VFIO_LIB_DRIVERS_EDU_EDU_H
#define SELFTESTS_VFIO_LIB_DRIVERS_EDU_EDU_H

#include <libvfio/vfio_pci_driver.h>

/* libvfio's driver for QEMU's edu device (PCI 1234:11e8) */
extern struct vfio_pci_driver_ops edu_ops;

#endif /* SELFTESTS_VFIO_LIB_DRIVERS_EDU_EDU_H */
