/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the benchmarks of tools/ share (vfio-dma-bench.c, vfio-pci-bench.c):
 * failing with a line PREFIX "error: ...", which the includer defines, a
 * monotonic clock in ns, and the median and quartiles of their rounds.
 */
#ifndef VFIO_BENCH_H
#define VFIO_BENCH_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define __printf(a, b)	__attribute__((format(printf, a, b)))

static void __printf(1, 2) fail(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs(PREFIX "error: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	exit(1);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The median of @n values, and their first and third quartile */
static double median(const double *values, unsigned int n, double *q1,
		     double *q3)
{
	double *sorted = malloc(n * sizeof(*values)), mid;

	if (!sorted)
		fail("out of memory");
	memcpy(sorted, values, n * sizeof(*values));
	qsort(sorted, n, sizeof(*sorted), cmp_double);
	*q1 = sorted[(n - 1) / 4];
	*q3 = sorted[n - 1 - (n - 1) / 4];
	mid = sorted[n / 2];
	free(sorted);
	return mid;
}

#endif /* VFIO_BENCH_H */
