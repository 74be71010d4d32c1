// SPDX-License-Identifier: GPL-2.0
/*
 * nested-l2 QEMU DATADIR BDF TIMEOUT: run QEMU (the L2 guest's) on the PCI
 * device BDF of this guest (the L1) through the device cdev and iommufd,
 * as a VMM drives a device behind a VFIO driver, until the L2's firmware
 * has enumerated it.
 *
 * QEMU gets "-object iommufd" and "-device vfio-pci,host=BDF,iommufd=...":
 * it opens the device's cdev (/dev/vfio/devices/vfioN), binds it to the
 * iommufd, attaches it to an IOAS holding the L2's memory, and gives the
 * L2 the device's config space and BARs through the VFIO driver of BDF in
 * this guest. The L2 runs SeaBIOS only, with its debug console in a file
 * (isa-debugcon on port 0x402), which says "PCI: init bdf=... id=VVVV:DDDD"
 * for each device it enumerated and "PCI: map device bdf=... bar N" for
 * each BAR it placed. Once the L2 has enumerated the device, QEMU's monitor
 * (on a pipe) is asked for "info pci", the L2's view of its PCI bus, and to
 * quit, which closes the device: QEMU detaches and unbinds it. QEMU's
 * output comes through a pipe, which this program copies to its own: QEMU
 * makes its standard output non-blocking, and on the console that the
 * guest's programs share, writes would fail when its buffer is full.
 *
 * Prints the driver BDF is bound to, its cdev, the firmware's lines about
 * PCI, QEMU's own output; exits 0 if the firmware enumerated the device
 * (vendor and device as in this guest's sysfs) and mapped a BAR of it, and
 * QEMU then exited 0; 1 otherwise, saying why.
 *
 * tools/run_nested.py (make nested) runs it in the x86_64 guest, after
 * pci-rebind bound the edu device to the Rust variant driver.
 *
 * Build: gcc -static -O2 -Wall -o nested-l2 nested-l2.c
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <poll.h>
#include <unistd.h>
#include <sys/wait.h>

#include "pci-driver.h"

#define FIRMWARE_LOG	"/nested-firmware.log"

/* The first line of the sysfs file PATH, without its newline, in buf */
static int read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");

	if (!f || !fgets(buf, size, f)) {
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* "vvvv:dddd" of BDF, from its sysfs vendor and device files */
static int device_id(const char *bdf, char *id, size_t size)
{
	char path[PATH_MAX], vendor[16], device[16];

	snprintf(path, sizeof(path), DEVICES "/%s/vendor", bdf);
	if (read_line(path, vendor, sizeof(vendor)))
		return -1;
	snprintf(path, sizeof(path), DEVICES "/%s/device", bdf);
	if (read_line(path, device, sizeof(device)))
		return -1;
	/* Each reads 0xNNNN */
	snprintf(id, size, "%s:%s", vendor + 2, device + 2);
	return 0;
}

/* The cdev of BDF, /dev/vfio/devices/vfioN, or "" if it has none */
static void cdev_of(const char *bdf, char *cdev, size_t size)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *dir;

	cdev[0] = '\0';
	snprintf(path, sizeof(path), DEVICES "/%s/vfio-dev", bdf);
	dir = opendir(path);
	if (!dir)
		return;
	while ((e = readdir(dir)))
		if (!strncmp(e->d_name, "vfio", 4))
			snprintf(cdev, size, "/dev/vfio/devices/%s", e->d_name);
	closedir(dir);
}

/*
 * Copy what QEMU wrote to @fd, waiting up to @ms milliseconds for it, to
 * this program's output: 1 if there was some, 0 at its end, -1 if none
 * came in time
 */
static int relay(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[4096];
	ssize_t n, done, w;

	if (poll(&p, 1, ms) <= 0)
		return -1;
	n = read(fd, buf, sizeof(buf));
	if (n <= 0)
		return n < 0 && errno == EINTR ? -1 : 0;
	fflush(stdout);
	for (done = 0; done < n; done += w) {
		w = write(1, buf + done, n - done);
		if (w < 0)
			break;
	}
	return 1;
}

/*
 * Whether the firmware's log says it enumerated a device with id and
 * mapped one of its BARs; prints its lines about PCI if print.
 */
static int firmware_saw(const char *id, int print)
{
	char line[256], bdf[32] = "", want[64];
	int enumerated = 0, mapped = 0;
	FILE *f = fopen(FIRMWARE_LOG, "r");

	if (!f)
		return 0;
	snprintf(want, sizeof(want), " id=%s", id);
	while (fgets(line, sizeof(line), f)) {
		char *at = strstr(line, "PCI: init bdf=");

		if (print && (!strncmp(line, "PCI", 3) ||
			      !strncmp(line, "Found", 5) ||
			      !strncmp(line, "SeaBIOS", 7)))
			printf("  L2 firmware: %s", line);
		if (at && strstr(line, want)) {
			enumerated = 1;
			sscanf(at + strlen("PCI: init bdf="), "%31s", bdf);
		}
	}
	/* Its BARs are mapped before its init, so read the log again */
	rewind(f);
	while (bdf[0] && fgets(line, sizeof(line), f)) {
		char map[64];

		snprintf(map, sizeof(map), "PCI: map device bdf=%s ", bdf);
		if (strstr(line, map))
			mapped = 1;
	}
	fclose(f);
	return enumerated && mapped;
}

int main(int argc, char **argv)
{
	char id[32], driver[PATH_MAX], cdev[PATH_MAX], host[64], fw[64];
	int monitor[2], output[2], timeout, status, seen = 0, ret;
	time_t start = time(NULL);
	pid_t pid;

	if (argc != 5) {
		fprintf(stderr, "usage: nested-l2 QEMU DATADIR BDF TIMEOUT\n");
		return 2;
	}
	timeout = atoi(argv[4]);
	if (device_id(argv[3], id, sizeof(id))) {
		fprintf(stderr, "nested-l2: no PCI device %s\n", argv[3]);
		return 1;
	}
	if (driver_of(argv[3], driver, sizeof(driver)))
		driver[0] = '\0';
	cdev_of(argv[3], cdev, sizeof(cdev));
	printf("nested-l2: %s (%s) is bound to %s, cdev %s\n", argv[3], id,
	       driver[0] ? driver : "(none)", cdev[0] ? cdev : "(none)");
	if (!cdev[0]) {
		fprintf(stderr, "nested-l2: %s has no VFIO cdev\n", argv[3]);
		return 1;
	}
	fflush(stdout);

	snprintf(host, sizeof(host), "vfio-pci,host=%s,iommufd=iommufd0",
		 argv[3]);
	snprintf(fw, sizeof(fw), "file,id=fw,path=%s", FIRMWARE_LOG);
	if (pipe(monitor) || pipe(output))
		return 1;
	pid = fork();
	if (pid < 0)
		return 1;
	if (!pid) {
		char *qemu[] = {
			argv[1], "-L", argv[2], "-machine", "q35",
			"-accel", "tcg", "-m", "32", "-nodefaults",
			"-no-user-config", "-display", "none",
			"-serial", "none", "-monitor", "stdio",
			"-chardev", fw,
			"-device", "isa-debugcon,iobase=0x402,chardev=fw",
			"-object", "iommufd,id=iommufd0",
			"-device", host, NULL,
		};
		int i;

		printf("nested-l2: $");
		for (i = 0; qemu[i]; i++)
			printf(" %s", qemu[i]);
		printf("\n");
		fflush(stdout);
		dup2(monitor[0], 0);
		dup2(output[1], 1);
		dup2(output[1], 2);
		close(monitor[0]);
		close(monitor[1]);
		close(output[0]);
		close(output[1]);
		execv(qemu[0], qemu);
		perror("nested-l2: exec");
		_exit(127);
	}
	close(monitor[0]);
	close(output[1]);

	while (!(seen = firmware_saw(id, 0)) &&
	       time(NULL) - start < timeout) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			while (relay(output[0], 100) > 0)
				;
			fprintf(stderr, "nested-l2: QEMU exited before the "
				"firmware enumerated the device\n");
			firmware_saw(id, 1);
			return 1;
		}
		if (!relay(output[0], 1000))
			sleep(1);
	}
	printf("nested-l2: after %ld s, the L2's firmware %s %s\n",
	       (long)(time(NULL) - start),
	       seen ? "enumerated and mapped" : "did not enumerate", id);
	firmware_saw(id, 1);
	fflush(stdout);

	/* The L2's PCI bus as QEMU shows it, then quit */
	ret = write(monitor[1], "info pci\n", 9);
	for (start = time(NULL); time(NULL) - start < 5;)
		relay(output[0], 1000);
	ret = write(monitor[1], "quit\n", 5);
	(void)ret;
	close(monitor[1]);
	for (start = time(NULL); waitpid(pid, &status, WNOHANG) != pid;) {
		if (time(NULL) - start > 60) {
			fprintf(stderr, "nested-l2: QEMU did not quit\n");
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return 1;
		}
		relay(output[0], 1000);
	}
	while (relay(output[0], 100) > 0)
		;
	printf("\nnested-l2: QEMU exited with %d\n",
	       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return seen && WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : 1;
}
