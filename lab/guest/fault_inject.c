// SPDX-License-Identifier: GPL-2.0
/*
 * fault_inject: break the guest on purpose, so the lab's fault handling is
 * tested against real kernels instead of mocks.
 *
 *   fault_inject panic         kernel panic via /proc/sysrq-trigger ('c')
 *   fault_inject flood MIB     write MIB mebibytes of text to stdout, fast
 *   fault_inject garbage       result lines that are malformed or hostile
 *   fault_inject sleep SECS    sleep (for timeouts) and exit 0
 *   fault_inject exit CODE     exit with CODE
 *   fault_inject alternate     fail (exit 1) on the first run and every other re-run, pass
 *                              on the others: the boot's entrylab.rerun=N word (the lab puts
 *                              it on the command line of re-run boots) decides, so flaky
 *                              classification is tested on a real guest
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int sysrq(char c)
{
	int fd = open("/proc/sysrq-trigger", O_WRONLY);

	if (fd < 0) {
		perror("open /proc/sysrq-trigger");
		return 1;
	}
	sync();
	if (write(fd, &c, 1) != 1) {
		perror("write sysrq");
		return 1;
	}
	return 0; /* not reached for 'c' */
}

static int flood(long mib)
{
	static char line[1024];

	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\n';
	for (long i = 0; i < mib * 1024; i++) {
		if (write(1, line, sizeof(line)) < 0)
			return 1;
	}
	return 0;
}

static int garbage(void)
{
	puts("{\"entrylab\":1,\"test\":\"ok/one\",\"status\":\"pass\"}");
	puts("{\"entrylab\":1,\"test\":\"truncated\",\"status\":\"pa");
	puts("{\"entrylab\":1,\"test\":\"x\",\"status\":\"owned\"}");
	puts("{\"entrylab\":1,\"test\":\"../../etc/passwd <script>alert(1)</script>\","
	     "\"status\":\"fail\",\"message\":\"| `rm -rf /` |\"}");
	puts("\x1b[2J\x1b[31mterminal escape\x1b[0m");
	return 0;
}

/* N of the kernel command line's entrylab.rerun=N; 0 on a first run (no such word). */
static long rerun_number(void)
{
	char line[4096] = "";
	const char *word;
	FILE *f = fopen("/proc/cmdline", "r");

	if (!f) {
		perror("open /proc/cmdline");
		return -1;
	}
	if (!fgets(line, sizeof(line), f))
		line[0] = 0;
	fclose(f);
	word = strstr(line, "entrylab.rerun=");
	return word ? atol(word + strlen("entrylab.rerun=")) : 0;
}

static int alternate(void)
{
	long n = rerun_number();

	printf("run %ld (entrylab.rerun=%ld): %s\n", n, n, n % 2 ? "pass" : "fail");
	return n < 0 ? 2 : n % 2 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s panic|oops|flood MIB|garbage|sleep S|exit N\n", argv[0]);
		return 2;
	}
	if (!strcmp(argv[1], "panic"))
		return sysrq('c');
	if (!strcmp(argv[1], "flood") && argc > 2)
		return flood(atol(argv[2]));
	if (!strcmp(argv[1], "garbage"))
		return garbage();
	if (!strcmp(argv[1], "sleep") && argc > 2) {
		sleep((unsigned int)atoi(argv[2]));
		return 0;
	}
	if (!strcmp(argv[1], "exit") && argc > 2)
		return atoi(argv[2]);
	if (!strcmp(argv[1], "alternate"))
		return alternate();
	fprintf(stderr, "fault_inject: unknown fault %s\n", argv[1]);
	return 2;
}
