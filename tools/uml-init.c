// SPDX-License-Identifier: GPL-2.0
/*
 * A static init for user space under UML: mount what tests need, run a list
 * of programs one after another and power off.
 *
 * The programs are the arguments the kernel passes to init (everything after
 * "--" on the kernel command line), or else the lines of /uml-init.list: one
 * program per line, its arguments after it separated by blanks; empty lines
 * and lines starting with '#' are skipped. The program is the first word
 * that starts with '/'; the words before it, in any order, may be
 *   timeout=<s>     the seconds it may run (0: no limit), instead of
 *                   DEFAULT_TIMEOUT
 *   <name>=<value>  a variable of its environment only, as in a shell
 *                   (VFIO's selftests take their device from
 *                   VFIO_SELFTESTS_BDF)
 *   iommu-faults    it makes a device fault in its IOMMU on purpose: the
 *                   init writes "vfio-selftest: expected IOMMU fault
 *                   begins" to /dev/kmsg before it and "... ends" after
 *                   it, the lines the VFIO tests write around such DMA
 *                   themselves, so that a check of the kernel log takes
 *                   the fault reports between them as expected
 *
 * Each program runs with / as its working directory and /dev/console as its
 * standard input, output and error, in a process group of its own. Its
 * output is framed on the console by
 *
 *	uml-init: BEGIN <command>
 *	uml-init: END <command> exit=<code> seconds=<s>
 *
 * where <code> is the exit status, or 128 + the signal that killed it, and
 * <s> the time the program took. A program still running after its timeout
 * has its process group killed (SIGKILL), and <code> is "timeout"; the init
 * goes on with the next program. The last line is
 * "uml-init: DONE programs=<n> failed=<n>". The number of failed programs
 * goes to /proc/exitcode, which UML returns as its own exit status when it
 * powers off.
 *
 * Not run as PID 1 (a test on the host), the init mounts nothing, keeps its
 * standard streams and working directory, reads the list from
 * $UML_INIT_LIST if set, writes what it would write to /dev/kmsg to
 * $UML_INIT_KMSG if set, and exits with the number of failed programs
 * instead of powering off.
 *
 * Build: gcc -static -O2 -Wall -o init uml-init.c
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#define LIST_FILE	"/uml-init.list"
#define KMSG		"/dev/kmsg"
#define FAULTS_BEGIN	"vfio-selftest: expected IOMMU fault begins\n"
#define FAULTS_END	"vfio-selftest: expected IOMMU fault ends\n"
#define MAX_ARGS	64
/* Seconds a program may run; tools/uml_user.py has the same default. */
#define DEFAULT_TIMEOUT	300
/* Seconds to wait for a killed program to be reaped before going on. */
#define KILL_GRACE	10

static int programs, failed;
static int pid1;
static const char *kmsg_path = KMSG;

static void say(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (len < 0)
		return;
	if (len > (int)sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	/* One write per line, so that kernel messages cannot split it. */
	if (write(STDOUT_FILENO, line, len) < 0)
		return;
}

static void mount_one(const char *source, const char *target,
		      const char *type)
{
	if (mkdir(target, 0755) && errno != EEXIST)
		say("uml-init: mkdir %s: %s", target, strerror(errno));
	if (mount(source, target, type, 0, NULL) && errno != EBUSY)
		say("uml-init: mount %s on %s: %s", type, target,
		    strerror(errno));
}

/* The kernel found no /dev/console on a hostfs root: open devtmpfs' one. */
static void open_console(void)
{
	int fd = open("/dev/console", O_RDWR);

	if (fd < 0)
		return;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

static void join_args(char *buf, size_t size, char *const argv[])
{
	size_t used = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; argv[i] && used < size; i++)
		used += snprintf(buf + used, size - used, "%s%s",
				 i ? " " : "", argv[i]);
}

static double since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec - start->tv_sec +
		(now.tv_nsec - start->tv_nsec) / 1e9;
}

/*
 * Wait until pid ends or until seconds (0: no limit) have passed since
 * start, reaping any other child on the way (as pid 1, whatever a program
 * left behind). SIGCHLD is blocked, so one that comes between the reaping
 * and the wait stays pending. Returns 1 with *status set when pid ended,
 * 0 after the time, -1 when there is no such child.
 */
static int wait_until(pid_t pid, int *status, const struct timespec *start,
		      unsigned int seconds)
{
	sigset_t chld;
	pid_t w;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	for (;;) {
		struct timespec left;
		double rest;

		while ((w = waitpid(-1, status, WNOHANG)) > 0)
			if (w == pid)
				return 1;
		if (w < 0 && errno != EINTR)
			return -1;
		if (!seconds) {
			sigwaitinfo(&chld, NULL);
			continue;
		}
		rest = seconds - since(start);
		if (rest <= 0)
			return 0;
		left.tv_sec = (time_t)rest;
		left.tv_nsec = (long)((rest - left.tv_sec) * 1e9);
		sigtimedwait(&chld, NULL, &left);
	}
}

/*
 * The time the kernel takes to print a line of /dev/kmsg on the console:
 * its console thread prints it while the init goes on, and a marker the
 * init writes meanwhile gets cut by it (seen once on an x86_64 guest under
 * load: "uml-init: END /v" and the kernel's line, then the rest).
 */
#define KMSG_SETTLE_US	300000

/* A line of the kernel log, written to /dev/kmsg, then printed */
static void kmsg(const char *text)
{
	int fd = open(kmsg_path, O_WRONLY | O_APPEND);

	if (fd < 0) {
		say("uml-init: open %s: %s", kmsg_path, strerror(errno));
		return;
	}
	if (write(fd, text, strlen(text)) < 0)
		say("uml-init: write %s: %s", kmsg_path, strerror(errno));
	close(fd);
	if (pid1)
		usleep(KMSG_SETTLE_US);
}

/*
 * Run one program to its end, or until timeout seconds (0: no limit) have
 * passed, and record its result; returns its exit code, 128 + the signal
 * that killed it, or -1 when it timed out.
 */
static int run(char *const argv[], char *const env[], int nenv,
	       int faults, unsigned int timeout)
{
	struct timespec start, killed;
	sigset_t chld, old;
	char command[512];
	int status, code, ended;
	pid_t pid;

	join_args(command, sizeof(command), argv);
	say("uml-init: BEGIN %s", command);
	if (faults)
		kmsg(FAULTS_BEGIN);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	clock_gettime(CLOCK_MONOTONIC, &start);
	pid = fork();
	if (pid < 0) {
		say("uml-init: fork: %s", strerror(errno));
		code = 127;
		goto out;
	}
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		setpgid(0, 0);
		for (int i = 0; i < nenv; i++)
			putenv(env[i]);
		execv(argv[0], argv);
		say("uml-init: exec %s: %s", argv[0], strerror(errno));
		_exit(127);
	}
	/* Also here, so that the group exists before any kill below. */
	setpgid(pid, pid);
	ended = wait_until(pid, &status, &start, timeout);
	if (ended == 0) {
		say("uml-init: %s still running after %u s, killing its "
		    "process group%s", command, timeout,
		    pid1 ? " and every other process" : "");
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		/*
		 * The kselftest harness runs each test in a process group
		 * of its own. As PID 1, every other process is the
		 * program's or left over by an earlier one: kill(-1) ends
		 * them all but the init.
		 */
		if (pid1)
			kill(-1, SIGKILL);
		clock_gettime(CLOCK_MONOTONIC, &killed);
		if (wait_until(pid, &status, &killed, KILL_GRACE) != 1)
			say("uml-init: %s not reaped %d s after SIGKILL, "
			    "going on", command, KILL_GRACE);
		code = -1;
	} else if (ended < 0) {
		code = 127;
	} else if (WIFEXITED(status)) {
		code = WEXITSTATUS(status);
	} else {
		code = 128 + WTERMSIG(status);
	}
out:
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (faults)
		kmsg(FAULTS_END);
	if (code < 0)
		say("uml-init: END %s exit=timeout seconds=%.1f", command,
		    since(&start));
	else
		say("uml-init: END %s exit=%d seconds=%.1f", command, code,
		    since(&start));
	programs++;
	failed += code != 0;
	return code;
}

/* Split a line of the list into argv in place; returns argc. */
static int split(char *line, char *argv[], int max)
{
	int argc = 0;
	char *tok;

	for (tok = strtok(line, " \t\n"); tok && argc < max - 1;
	     tok = strtok(NULL, " \t\n"))
		argv[argc++] = tok;
	argv[argc] = NULL;
	return argc;
}

/*
 * The words before a line's program (see the top): its timeout in
 * *timeout, its variables in env[] (*nenv of them), whether it makes
 * IOMMU faults in *faults. Returns the index of the program, or -1 when
 * a word is none of those or no program follows.
 */
static int line_prefix(char *const argv[], int argc, unsigned int *timeout,
		       char *env[], int *nenv, int *faults)
{
	unsigned long value;
	char *end;
	int i;

	for (i = 0; i < argc && argv[i][0] != '/'; i++) {
		if (!strncmp(argv[i], "timeout=", 8)) {
			errno = 0;
			value = strtoul(argv[i] + 8, &end, 10);
			if (errno || end == argv[i] + 8 || *end ||
			    value > 86400)
				return -1;
			*timeout = value;
		} else if (!strcmp(argv[i], "iommu-faults")) {
			*faults = 1;
		} else if (argv[i][0] != '=' && strchr(argv[i], '=')) {
			env[(*nenv)++] = argv[i];
		} else {
			return -1;
		}
	}
	return i < argc ? i : -1;
}

static void run_list_file(const char *path)
{
	char line[1024], *argv[MAX_ARGS], *env[MAX_ARGS];
	int argc, prog, nenv, faults;
	unsigned int timeout;
	FILE *list;

	list = fopen(path, "r");
	if (!list) {
		say("uml-init: no programs: none given and %s: %s", path,
		    strerror(errno));
		failed++;
		return;
	}
	while (fgets(line, sizeof(line), list)) {
		if (line[0] == '#')
			continue;
		argc = split(line, argv, MAX_ARGS);
		if (!argc)
			continue;
		timeout = DEFAULT_TIMEOUT;
		nenv = 0;
		faults = 0;
		prog = line_prefix(argv, argc, &timeout, env, &nenv, &faults);
		if (prog < 0) {
			say("uml-init: %s: bad line starting with %s", path,
			    argv[0]);
			failed++;
			continue;
		}
		run(argv + prog, env, nenv, faults, timeout);
	}
	fclose(list);
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		return;
	if (write(fd, text, strlen(text)) < 0)
		say("uml-init: write %s: %s", path, strerror(errno));
	close(fd);
}

int main(int argc, char *argv[])
{
	const char *list = LIST_FILE;
	char code[16];
	int i;

	pid1 = getpid() == 1;
	if (pid1) {
		mount_one("proc", "/proc", "proc");
		mount_one("sysfs", "/sys", "sysfs");
		mount_one("devtmpfs", "/dev", "devtmpfs");
		mount_one("debugfs", "/sys/kernel/debug", "debugfs");
		open_console();
		if (chdir("/"))
			say("uml-init: chdir /: %s", strerror(errno));
		setenv("PATH", "/:/bin:/usr/bin", 1);
	} else {
		say("uml-init: not PID 1: no mounts, no power off");
		if (getenv("UML_INIT_LIST"))
			list = getenv("UML_INIT_LIST");
		if (getenv("UML_INIT_KMSG"))
			kmsg_path = getenv("UML_INIT_KMSG");
	}

	if (argc > 1) {
		for (i = 1; i < argc; i++) {
			char *prog[] = { argv[i], NULL };

			run(prog, NULL, 0, 0, DEFAULT_TIMEOUT);
		}
	} else {
		run_list_file(list);
	}

	say("uml-init: DONE programs=%d failed=%d", programs, failed);
	if (!pid1)
		return failed > 99 ? 99 : failed;
	snprintf(code, sizeof(code), "%d\n", failed > 99 ? 99 : failed);
	write_file("/proc/exitcode", code);
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
