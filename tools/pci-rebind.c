// SPDX-License-Identifier: GPL-2.0
/*
 * pci-rebind BDF DRIVER: bind the PCI device BDF to DRIVER through its
 * driver_override, as a user binds a device to a vfio-pci variant driver:
 * unbind it from the driver it has, if any, write DRIVER to its
 * driver_override, ask the PCI core to probe it, and check that it is bound
 * to DRIVER. Exits 0 if it is, 1 if not, saying why on stderr.
 *
 * The x86_64 guests run it before the tests of a device behind a variant
 * driver (tools/run_user.py).
 *
 * Build: gcc -static -O2 -Wall -o pci-rebind pci-rebind.c
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pci-driver.h"

static int write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	ssize_t len = strlen(text);

	if (fd < 0) {
		fprintf(stderr, "pci-rebind: open %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	if (write(fd, text, len) != len) {
		fprintf(stderr, "pci-rebind: write '%s' to %s: %s\n", text,
			path, strerror(errno));
		close(fd);
		return -1;
	}
	return close(fd);
}

int main(int argc, char *argv[])
{
	char path[PATH_MAX], driver[PATH_MAX];
	const char *bdf, *want;
	int had;

	if (argc != 3) {
		fprintf(stderr, "usage: %s BDF DRIVER\n", argv[0]);
		return 1;
	}
	bdf = argv[1];
	want = argv[2];
	if (driver_of(bdf, driver, sizeof(driver))) {
		fprintf(stderr, "pci-rebind: %s: %s\n", bdf, strerror(errno));
		return 1;
	}
	had = driver[0] != '\0';
	if (had) {
		snprintf(path, sizeof(path), DEVICES "/%s/driver/unbind", bdf);
		if (write_text(path, bdf))
			return 1;
	}
	snprintf(path, sizeof(path), DEVICES "/%s/driver_override", bdf);
	if (write_text(path, want) ||
	    write_text("/sys/bus/pci/drivers_probe", bdf))
		return 1;
	if (driver_of(bdf, driver, sizeof(driver)) || strcmp(driver, want)) {
		fprintf(stderr, "pci-rebind: %s is bound to '%s', not %s\n",
			bdf, driver, want);
		return 1;
	}
	printf("pci-rebind: %s: %s, now bound to %s\n", bdf,
	       had ? "unbound" : "had no driver", want);
	return 0;
}
