// SPDX-License-Identifier: GPL-2.0
/*
 * The last program of a memory-checking boot: ask kmemleak for a scan and
 * print what it found.
 *
 * kmemleak reports an object once it has gone unreferenced for two scans and
 * is older than its minimum age (5 s), so this scans, waits past that age and
 * scans again, then reads /sys/kernel/debug/kmemleak. Each suspected leak is
 * printed ("unreferenced object 0x..." and its backtrace), which the kernel
 * log check of tools/run.py reads; the exit code is 1 when there is one, 2
 * when kmemleak is not there or is off.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define KMEMLEAK	"/sys/kernel/debug/kmemleak"
#define MIN_AGE_S	6

static int command(const char *cmd)
{
	int fd = open(KMEMLEAK, O_WRONLY);
	ssize_t n;

	if (fd < 0) {
		printf("kmemleak-scan: %s: %s\n", KMEMLEAK, strerror(errno));
		return -1;
	}
	n = write(fd, cmd, strlen(cmd));
	if (n < 0)
		printf("kmemleak-scan: %s: %s\n", cmd, strerror(errno));
	close(fd);
	return n < 0 ? -1 : 0;
}

int main(void)
{
	char buf[4096];
	size_t leaks = 0;
	FILE *f;

	if (command("scan"))
		return 2;
	sleep(MIN_AGE_S);
	if (command("scan") || command("scan"))
		return 2;

	f = fopen(KMEMLEAK, "r");
	if (!f) {
		printf("kmemleak-scan: %s: %s\n", KMEMLEAK, strerror(errno));
		return 2;
	}
	while (fgets(buf, sizeof(buf), f)) {
		if (!strncmp(buf, "unreferenced object", 19))
			leaks++;
		fputs(buf, stdout);
	}
	fclose(f);
	printf("kmemleak-scan: %zu suspected leaks\n", leaks);
	return leaks ? 1 : 0;
}
