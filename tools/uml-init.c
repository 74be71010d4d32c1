// SPDX-License-Identifier: GPL-2.0
/*
 * A static init for user space under UML: mount what tests need, run a list
 * of programs one after another and power off.
 *
 * The programs are the arguments the kernel passes to init (everything after
 * "--" on the kernel command line), or else the lines of /uml-init.list: one
 * program per line, its arguments after it separated by blanks; empty lines
 * and lines starting with '#' are skipped.
 *
 * Each program runs with / as its working directory and /dev/console as its
 * standard input, output and error. Its output is framed on the console by
 *
 *	uml-init: BEGIN <command>
 *	uml-init: END <command> exit=<code> seconds=<s>
 *
 * where <code> is the exit status, or 128 + the signal that killed it, and
 * <s> the time the program took. The last line is
 * "uml-init: DONE programs=<n> failed=<n>". The number of failed programs
 * goes to /proc/exitcode, which UML returns as its own exit status when it
 * powers off.
 *
 * Build: gcc -static -O2 -Wall -o init uml-init.c
 */
#include <errno.h>
#include <fcntl.h>
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
#define MAX_ARGS	64

static int programs, failed;

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

/*
 * Run one program to its end and record its result; returns its exit code,
 * or 128 + the signal that killed it.
 */
static int run(char *const argv[])
{
	struct timespec start, end;
	char command[512];
	int status, code;
	pid_t pid, w;

	join_args(command, sizeof(command), argv);
	say("uml-init: BEGIN %s", command);
	clock_gettime(CLOCK_MONOTONIC, &start);
	pid = fork();
	if (pid < 0) {
		say("uml-init: fork: %s", strerror(errno));
		code = 127;
		goto out;
	}
	if (pid == 0) {
		execv(argv[0], argv);
		say("uml-init: exec %s: %s", argv[0], strerror(errno));
		_exit(127);
	}
	/* As pid 1, also reap whatever the program left behind. */
	do {
		w = wait(&status);
	} while (w != pid && (w >= 0 || errno == EINTR));
	if (w != pid)
		code = 127;
	else if (WIFEXITED(status))
		code = WEXITSTATUS(status);
	else
		code = 128 + WTERMSIG(status);
out:
	clock_gettime(CLOCK_MONOTONIC, &end);
	say("uml-init: END %s exit=%d seconds=%.1f", command, code,
	    end.tv_sec - start.tv_sec + (end.tv_nsec - start.tv_nsec) / 1e9);
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

static void run_list_file(void)
{
	char line[1024], *argv[MAX_ARGS];
	FILE *list;

	list = fopen(LIST_FILE, "r");
	if (!list) {
		say("uml-init: no programs: none given and %s: %s", LIST_FILE,
		    strerror(errno));
		failed++;
		return;
	}
	while (fgets(line, sizeof(line), list)) {
		if (line[0] != '#' && split(line, argv, MAX_ARGS))
			run(argv);
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
	char code[16];
	int i;

	mount_one("proc", "/proc", "proc");
	mount_one("sysfs", "/sys", "sysfs");
	mount_one("devtmpfs", "/dev", "devtmpfs");
	mount_one("debugfs", "/sys/kernel/debug", "debugfs");
	open_console();
	if (chdir("/"))
		say("uml-init: chdir /: %s", strerror(errno));
	setenv("PATH", "/:/bin:/usr/bin", 1);

	if (argc > 1) {
		for (i = 1; i < argc; i++) {
			char *prog[] = { argv[i], NULL };

			run(prog);
		}
	} else {
		run_list_file();
	}

	say("uml-init: DONE programs=%d failed=%d", programs, failed);
	snprintf(code, sizeof(code), "%d\n", failed > 99 ? 99 : failed);
	write_file("/proc/exitcode", code);
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
