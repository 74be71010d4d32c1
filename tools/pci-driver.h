/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the guests' PCI tools share (pci-rebind.c, nested-l2.c): the
 * device's folder in sysfs and the name of the driver it is bound to.
 */
#ifndef PCI_DRIVER_H
#define PCI_DRIVER_H

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DEVICES "/sys/bus/pci/devices"

/* The name of the driver BDF is bound to, in name, or "" if none. */
static int driver_of(const char *bdf, char *name, size_t size)
{
	char path[PATH_MAX], target[PATH_MAX];
	const char *base;
	ssize_t len;

	snprintf(path, sizeof(path), DEVICES "/%s/driver", bdf);
	len = readlink(path, target, sizeof(target) - 1);
	if (len < 0) {
		if (errno != ENOENT)
			return -1;
		name[0] = '\0';
		return 0;
	}
	target[len] = '\0';
	base = strrchr(target, '/');
	snprintf(name, size, "%s", base ? base + 1 : target);
	return 0;
}

#endif /* PCI_DRIVER_H */
