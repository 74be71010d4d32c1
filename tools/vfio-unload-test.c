// SPDX-License-Identifier: GPL-2.0
/*
 * Unloading a Rust VFIO driver's module while user space uses its device:
 * the module drivers/vfio/tests/vfio_rust_unload_test.rs, loaded from the
 * path given, in a kernel with module unloading (the Kbuild step's UML
 * build with every test and sample a module).
 *
 * Its device's parent is a faux device, whose driver is not the module's:
 * the Rust abstraction keeps the module loaded while the device is open,
 * and ends a registration the module leaked (leak=1) when it is unloaded.
 * A read of the device returns MAGIC, from the module's code.
 *
 * Prints TAP, one line per test; exits with the number of failed tests, 2
 * on bad arguments. The kernel's log is the runner's to check.
 *
 * Build as tools/vfio-dma-bench.c (the same header and libvfio objects).
 * Run, as root: vfio-unload-test MODULE.ko
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/syscall.h>

/* In the kernel tree's tools/testing/selftests/vfio/ */
#include "vfio_cdev_util.h"

#define MODULE_NAME	"vfio_rust_unload_test"
/* The module's faux devices are named DRIVER-N */
#define DRIVER		"vfio-rust-unload-test"
#define MAGIC		0x7666696fu
#define RACE_THREADS	2
#define RACE_SECONDS	2
#define RACE_ROUNDS	5
/* More than the fault sites of a load, which are a few hundred */
#define MAX_FAULT_SITES	5000

static const char *ko;
static int tests, failures;

static void report(bool ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("%s %d %s", ok ? "ok" : "not ok", ++tests, name);
	if (!ok && fmt) {
		printf(" # ");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	}
	printf("\n");
	fflush(stdout);
	failures += !ok;
}

static int load(const char *params)
{
	int fd = open(ko, O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -1;
	ret = syscall(SYS_finit_module, fd, params, 0);
	close(fd);
	return ret;
}

/* delete_module() without waiting: EWOULDBLOCK while the module is used */
static int unload(void)
{
	return syscall(SYS_delete_module, MODULE_NAME, O_NONBLOCK);
}

static bool loaded(void)
{
	return access("/sys/module/" MODULE_NAME, F_OK) == 0;
}

/* The device's cdev, opened and bound to a new iommufd; -errno on failure */
struct user {
	int fd;
	int iommufd;
};

static int open_device(struct user *u, bool bind, char *cdev, size_t size)
{
	struct vfio_dut d = { .fd = -1 };
	__u32 devid;
	int err;

	u->fd = u->iommufd = -1;
	if (find_vfio_device(DRIVER, &d))
		return -ENOENT;
	if (cdev)
		snprintf(cdev, size, "%s", d.cdev);
	u->fd = open(d.cdev, O_RDWR | O_CLOEXEC);
	if (u->fd < 0)
		return -errno;
	if (!bind)
		return 0;
	u->iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (u->iommufd < 0 || vfio_bind(u->fd, u->iommufd, &devid)) {
		err = -errno;
		close(u->fd);
		if (u->iommufd >= 0)
			close(u->iommufd);
		u->fd = u->iommufd = -1;
		return err;
	}
	return 0;
}

static void close_device(struct user *u)
{
	if (u->fd >= 0)
		close(u->fd);
	if (u->iommufd >= 0)
		close(u->iommufd);
	u->fd = u->iommufd = -1;
}

/* Whether a read of the device answers MAGIC, from the module's code */
static bool answers(const struct user *u)
{
	__u32 val = 0;

	return pread(u->fd, &val, sizeof(val), 0) == sizeof(val) &&
	       val == MAGIC;
}

/* Whether the device, at @cdev, and the module are gone */
static bool gone(const char *cdev)
{
	struct vfio_dut d;

	return !loaded() && find_vfio_device(DRIVER, &d) &&
	       access(cdev, F_OK) && errno == ENOENT;
}

/*
 * Loads the module with @params and opens its device (and binds it, with
 * @bind) as open_device() does; on failure, reports test @name failed and
 * leaves the module unloaded
 */
static bool load_and_open(const char *name, const char *params, bool bind,
			  struct user *u, char *cdev, size_t size)
{
	int err;

	if (load(params)) {
		report(false, name, "loading '%s': %s", params,
		       strerror(errno));
		return false;
	}
	err = open_device(u, bind, cdev, size);
	if (err) {
		report(false, name, "opening the device: %s", strerror(-err));
		unload();
		return false;
	}
	return true;
}

/*
 * Loaded with @params, the device open and bound: unloading fails and the
 * device answers; closed, the module unloads and the device is gone.
 */
static void open_then_unload(const char *name, const char *params)
{
	char cdev[PATH_MAX] = "";
	struct user u;
	int ret, unload_errno;
	bool answered;

	if (!load_and_open(name, params, true, &u, cdev, sizeof(cdev)))
		return;
	ret = unload();
	unload_errno = errno;
	answered = answers(&u);
	close_device(&u);
	if (ret != -1 || unload_errno != EWOULDBLOCK || !answered) {
		report(false, name, "unloading while open: %d (%s), read %s",
		       ret, ret ? strerror(unload_errno) : "unloaded",
		       answered ? "answered" : "failed");
		if (!ret)
			return;
	}
	if (unload()) {
		report(false, name, "unloading after the close: %s",
		       strerror(errno));
		return;
	}
	report(gone(cdev), name, "the device or the module is still there");
}

/* Loaded, unloaded at once: the device goes with the module */
static void unload_unused(const char *name, const char *params)
{
	char cdev[PATH_MAX] = "";
	struct vfio_dut d;

	if (load(params)) {
		report(false, name, "loading %s: %s", params, strerror(errno));
		return;
	}
	if (find_vfio_device(DRIVER, &d)) {
		report(false, name, "no device after loading %s", params);
		unload();
		return;
	}
	snprintf(cdev, sizeof(cdev), "%s", d.cdev);
	if (unload()) {
		report(false, name, "unloading: %s", strerror(errno));
		return;
	}
	report(gone(cdev), name, "the device or the module is still there");
}

struct blocked_unload {
	pthread_t thread;
	int ret, err;
};

/* Nothing keeps the module loaded: this waits in its exit */
static void *unload_waiting(void *arg)
{
	struct blocked_unload *b = arg;

	b->ret = unload();
	b->err = errno;
	return NULL;
}

/*
 * A file of the cdev open but not bound does not keep the module loaded:
 * the unloading waits in the module's exit for the file to close (as an
 * unbind does), and a BIND on it meanwhile fails with ENODEV.
 */
static void unload_waits_for_unbound_file(const char *name)
{
	struct blocked_unload b = { .ret = -1 };
	char cdev[PATH_MAX] = "";
	int err, iommufd;
	struct user u;
	__u32 devid;
	bool bound;

	if (!load_and_open(name, "", false, &u, cdev, sizeof(cdev)))
		return;
	if (pthread_create(&b.thread, NULL, unload_waiting, &b)) {
		report(false, name, "pthread_create failed");
		close_device(&u);
		unload();
		return;
	}
	sleep(1);
	iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	bound = iommufd >= 0 && !vfio_bind(u.fd, iommufd, &devid);
	err = errno;
	if (iommufd >= 0)
		close(iommufd);
	close_device(&u);
	pthread_join(b.thread, NULL);
	if (bound || err != ENODEV) {
		report(false, name, "BIND while unloading: %s",
		       bound ? "bound" : strerror(err));
		return;
	}
	if (b.ret) {
		report(false, name, "unloading: %s", strerror(b.err));
		return;
	}
	report(gone(cdev), name, "the device or the module is still there");
}

struct opener {
	pthread_t thread;
	volatile bool *stop;
	unsigned long binds, answered, unexpected;
	int last_err;
};

/* Opens, binds, reads and closes the device until told to stop */
static void *open_loop(void *arg)
{
	struct opener *o = arg;
	struct user u;
	int err;

	while (!*o->stop) {
		err = open_device(&u, true, NULL, 0);
		if (!err) {
			o->binds++;
			o->answered += answers(&u);
			close_device(&u);
			continue;
		}
		/*
		 * Bound by the other thread: the cdev binds a device once
		 * (EINVAL). Not found, or found as it goes: its node or its
		 * cdev gone (ENOENT, ENXIO), or its registration ending or
		 * its module going (ENODEV, from the open or the BIND).
		 */
		if (err != -EINVAL && err != -ENOENT && err != -ENXIO &&
		    err != -ENODEV) {
			o->unexpected++;
			o->last_err = -err;
		}
	}
	return NULL;
}

struct race {
	unsigned long binds, answered, unexpected, refused;
	int last_err;
};

/* One round of unload_races_opens(), counted in @r; 0 if it unloaded */
static int race_round(struct race *r)
{
	struct opener o[RACE_THREADS];
	volatile bool stop = false;
	double end;
	int i, ret = -1;

	if (load(""))
		return -1;
	for (i = 0; i < RACE_THREADS; i++) {
		o[i] = (struct opener){ .stop = &stop };
		if (pthread_create(&o[i].thread, NULL, open_loop, &o[i])) {
			stop = true;
			while (i--)
				pthread_join(o[i].thread, NULL);
			unload();
			return -1;
		}
	}
	usleep(100 * 1000);
	end = now() + RACE_SECONDS;
	while (now() < end) {
		ret = unload();
		if (!ret)
			break;
		if (errno != EWOULDBLOCK) {
			r->unexpected++;
			r->last_err = errno;
			break;
		}
		r->refused++;
		usleep(1000);
	}
	stop = true;
	for (i = 0; i < RACE_THREADS; i++) {
		pthread_join(o[i].thread, NULL);
		r->binds += o[i].binds;
		r->answered += o[i].answered;
		r->unexpected += o[i].unexpected;
		if (o[i].unexpected)
			r->last_err = o[i].last_err;
	}
	/* Refused until the openers stopped, if they never let go: now */
	if (ret)
		ret = unload();
	return ret || loaded() ? -1 : 0;
}

/*
 * Threads open, bind, read and close the device in a loop while the module
 * is unloaded: unloading fails while a device is open, and succeeds once
 * none is; every bind reads MAGIC; errors are only those of a device bound
 * by the other thread, gone or going. RACE_ROUNDS rounds.
 */
static void unload_races_opens(const char *name)
{
	struct race r = { 0 };
	int round, ret = 0;

	for (round = 0; round < RACE_ROUNDS && !ret; round++)
		ret = race_round(&r);
	printf("# %s: %d rounds, %lu binds, %lu unloads refused\n", name,
	       round, r.binds, r.refused);
	report(!ret && r.binds && r.answered == r.binds && !r.unexpected,
	       name, "round %d %s, %lu of %lu binds read MAGIC, %lu unexpected errors (last %s)",
	       round, ret ? "failed" : "passed", r.answered, r.binds,
	       r.unexpected, r.last_err ? strerror(r.last_err) : "none");
}

/* Writes @value to the debugfs attribute @attr of fault injection */
static int set_fault_attr(const char *attr, const char *value)
{
	char path[PATH_MAX];
	int fd, ret;

	snprintf(path, sizeof(path), "/sys/kernel/debug/%s", attr);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = write(fd, value, strlen(value)) == (ssize_t)strlen(value) ? 0 : -1;
	close(fd);
	return ret;
}

/* This thread's fail-nth: writes @n, or reads it if @n is negative */
static long fail_nth(long n)
{
	char buf[32] = "";
	ssize_t len;
	int fd;

	fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (n >= 0) {
		len = snprintf(buf, sizeof(buf), "%ld", n);
		n = write(fd, buf, len) == len ? 0 : -1;
	} else {
		len = read(fd, buf, sizeof(buf) - 1);
		n = len > 0 ? strtol(buf, NULL, 10) : -1;
	}
	close(fd);
	return n;
}

/*
 * Each fault site of a load (every slab and page allocation, the module
 * loader's, the faux device's, the VFIO core's and the abstraction's, its
 * module notifier's included) fails in turn: a load that fails leaves
 * neither the module nor a device; one that succeeds all the same unloads.
 * Then a load without a fault succeeds.
 */
static void load_fail_nth(const char *name)
{
	unsigned long failed = 0, tolerated = 0;
	char why[128] = "";
	struct vfio_dut d;
	long n, left;
	int ret, err;

	if (set_fault_attr("failslab/ignore-gfp-wait", "N") ||
	    set_fault_attr("failslab/verbose", "0")) {
		report(false, name, "no failslab in debugfs");
		return;
	}
	set_fault_attr("fail_page_alloc/ignore-gfp-wait", "N");
	set_fault_attr("fail_page_alloc/verbose", "0");
	for (n = 1; n <= MAX_FAULT_SITES; n++) {
		if (fail_nth(n)) {
			snprintf(why, sizeof(why), "no fail-nth");
			break;
		}
		ret = load("");
		err = errno;
		left = fail_nth(-1);
		fail_nth(0);
		if (!ret) {
			if (unload()) {
				snprintf(why, sizeof(why),
					 "site %ld: unloading: %s", n,
					 strerror(errno));
				break;
			}
			if (left)	/* no fault was left to inject */
				break;
			tolerated++;
			continue;
		}
		if (left) {
			snprintf(why, sizeof(why),
				 "site %ld: the load failed without a fault: %s",
				 n, strerror(err));
			break;
		}
		failed++;
		if (loaded() || !find_vfio_device(DRIVER, &d)) {
			snprintf(why, sizeof(why),
				 "site %ld (%s): the %s is left", n,
				 strerror(err), loaded() ? "module" : "device");
			unload();
			break;
		}
	}
	if (!why[0] && n > MAX_FAULT_SITES)
		snprintf(why, sizeof(why), "still failing after %d sites",
			 MAX_FAULT_SITES);
	printf("# %s: %ld fault sites, %lu failed the load, %lu tolerated\n",
	       name, n - 1, failed, tolerated);
	report(!why[0], name, "%s", why);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s MODULE.ko\n", argv[0]);
		return 2;
	}
	ko = argv[1];
	printf("TAP version 13\n1..8\n");
	unload_unused("unload_unused", "");
	open_then_unload("unload_refused_while_open", "");
	unload_unused("unload_leaked", "leak=1");
	open_then_unload("unload_leaked_refused_while_open", "leak=1");
	unload_waits_for_unbound_file("unload_waits_for_unbound_file");
	unload_races_opens("unload_races_opens");
	unload_unused("reload_after_races", "");
	load_fail_nth("load_fail_nth");
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:0 error:0\n",
	       tests - failures, failures);
	return failures;
}
