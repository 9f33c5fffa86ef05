// SPDX-License-Identifier: GPL-2.0
/*
 * entrylab guest agent: PID 1 of every lab guest.
 *
 * Built `gcc -m32 -static`, so that on a 64-bit kernel it is itself a
 * 32-bit (compat) process: the AT_SYSINFO it reports is the one a 32-bit
 * program sees, and if the kernel cannot run 32-bit programs at all the
 * boot fails loudly at exec of /init.
 *
 * The serial console is a protocol, not a terminal. Echo and line editing
 * are off. Every line the agent writes starts with "@@<nonce>:" so that the
 * host can tell agent output from kernel messages on the same wire:
 *
 *   @@N:READY {json}            boot finished, identity of this guest
 *   @@N:<id>|<text>             one line of a command's stdout/stderr
 *   @@N:<id>=EXIT <code>        command finished (exit status)
 *   @@N:<id>=SIGNAL <signo>     command killed by a signal
 *   @@N:<id>=ERROR <text>       the agent could not run the command
 *
 * Requests from the host, one per line (arguments hex-encoded, so nothing a
 * host or guest says is ever parsed by a shell):
 *
 *   RUN <id> <hexarg> [<hexarg> ...]   run argv, output framed as above
 *   KILL <id>                          SIGKILL the running command's group
 *   VDSO <id>                          dump this process's vDSO image as hex
 *   PING <id>                          answer at once (protocol round trip)
 *   AUTHKEY <id> <hexkey>              write /root/.ssh/authorized_keys (0600)
 *   SHELL                              interactive busybox shell on the console
 *   POWEROFF                           sync and power off (serve mode: just exit)
 *
 * With `entrylab.net=1` on the kernel command line, PID 1 first loads the NIC
 * modules listed in /etc/entrylab/modules (finit_module, in that order, with
 * their `module.param=` words from the command line), configures eth0 as
 * 10.0.2.15/24 via 10.0.2.2 (QEMU user networking), starts dropbear on port 22
 * with the image's pinned host key, and only then says READY ("ssh":true, or
 * "ssh":false with "ssh_error").
 *
 * Other modes, for the SSH transport (lab/ssh.py):
 *
 *   agent serve NONCE [--bin DIR]   the same protocol on stdin/stdout (an SSH
 *                                   channel); READY first. Commands named
 *                                   /lab/bin/<prog> run DIR/<prog> when it exists
 *                                   (DIR defaults to /lab/bin-deployed, where the
 *                                   lab deploys programs over SFTP).
 *   agent info                      print the READY JSON and exit.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_LEN 65536
#define MAX_ARGS 256

static char nonce[64] = "nononce";
static struct termios saved_tio;
static int have_saved_tio;
static int serve_mode;                             /* protocol on an SSH channel, not PID 1 */
static int stdin_eof;                              /* serve mode: the host hung up */
static char deploy_dir[1024] = "/lab/bin-deployed"; /* preferred over /lab/bin/ */
static char kcmdline[4096];                        /* /proc/cmdline */
static int net_wanted;                             /* entrylab.net=1 */
static int ssh_ok;
static char ssh_error[512];

/* write(2) all of buf, retrying on short writes and EINTR. */
static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

/* One framed line: "@@<nonce>:" + formatted text + "\n", in one write. */
static void frame(const char *fmt, ...)
{
	static char buf[LINE_MAX_LEN + 256];
	int n = snprintf(buf, sizeof(buf), "@@%s:", nonce);
	va_list ap;

	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 2, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	write_all(1, buf, (size_t)n);
}

/* Mount what programs under test expect; failures are reported, not fatal. */
static void mount_basics(void)
{
	mkdir("/proc", 0555);
	mkdir("/sys", 0555);
	mkdir("/dev", 0755);
	mkdir("/tmp", 01777);
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	mount("tmpfs", "/tmp", "tmpfs", 0, NULL);
	mkdir("/dev/pts", 0755);
	mount("devpts", "/dev/pts", "devpts", 0, NULL);
}

/* The per-boot nonce comes from the kernel command line: entrylab.nonce=... */
static void read_nonce(void)
{
	int fd = open("/proc/cmdline", O_RDONLY);
	ssize_t n;
	char *p;

	if (fd < 0)
		return;
	n = read(fd, kcmdline, sizeof(kcmdline) - 1);
	close(fd);
	if (n <= 0)
		return;
	kcmdline[n] = 0;
	net_wanted = strstr(kcmdline, "entrylab.net=1") != NULL;
	p = strstr(kcmdline, "entrylab.nonce=");
	if (!p)
		return;
	p += strlen("entrylab.nonce=");
	size_t i = 0;
	while (p[i] && p[i] != ' ' && p[i] != '\n' && i < sizeof(nonce) - 1) {
		nonce[i] = p[i];
		i++;
	}
	nonce[i] = 0;
}

/* ---- entrylab.net=1: NIC modules, eth0, dropbear (the SSH transport) ---- */

#define MODULE_LIST "/etc/entrylab/modules"
#define HOST_KEY "/etc/dropbear/dropbear_ed25519_host_key"
#define DROPBEAR_LOG "/var/log/dropbear.log"

static void msleep(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* "virtio_mmio.device=..." words of the command line become "device=..." for it. */
static void module_params(const char *name, char *out, size_t cap)
{
	size_t nlen = strlen(name), n = 0;
	const char *p = kcmdline;

	out[0] = 0;
	while (*p) {
		size_t len = strcspn(p, " \n");
		if (len > nlen + 1 && strncmp(p, name, nlen) == 0 && p[nlen] == '.' &&
		    n + len - nlen + 1 < cap) {
			n += (size_t)snprintf(out + n, cap - n, "%s%.*s", n ? " " : "",
					      (int)(len - nlen - 1), p + nlen + 1);
		}
		p += len;
		while (*p == ' ' || *p == '\n')
			p++;
	}
}

/* finit_module(2) every module of MODULE_LIST in order (modprobe is not needed). */
static int load_modules(void)
{
	FILE *f = fopen(MODULE_LIST, "r");
	char path[512], params[1024];

	if (!f) {
		snprintf(ssh_error, sizeof(ssh_error), "no %s in the initramfs", MODULE_LIST);
		return -1;
	}
	while (fgets(path, sizeof(path), f)) {
		path[strcspn(path, "\n")] = 0;
		if (!path[0])
			continue;
		const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
		char name[128];
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(base, "."), base);
		module_params(name, params, sizeof(params));
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || (syscall(SYS_finit_module, fd, params, 0) != 0 && errno != EEXIST)) {
			snprintf(ssh_error, sizeof(ssh_error), "loading %.300s: %s", path,
				 strerror(errno));
			if (fd >= 0)
				close(fd);
			fclose(f);
			return -1;
		}
		close(fd);
	}
	fclose(f);
	return 0;
}

static int set_addr(int s, const char *ifname, unsigned long req, const char *addr)
{
	struct ifreq ifr;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, addr, &sin->sin_addr);
	return ioctl(s, req, &ifr);
}

static int set_up(int s, const char *ifname)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0)
		return -1;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	return ioctl(s, SIOCSIFFLAGS, &ifr);
}

/* lo up; eth0 10.0.2.15/24, default route via 10.0.2.2 (QEMU user networking). */
static int configure_eth0(void)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct rtentry rt;
	int tries;

	if (s < 0) {
		snprintf(ssh_error, sizeof(ssh_error), "socket: %s", strerror(errno));
		return -1;
	}
	set_up(s, "lo");
	for (tries = 0; if_nametoindex("eth0") == 0 && tries < 250; tries++)
		msleep(20); /* the driver's probe registers eth0, normally at once */
	if (set_addr(s, "eth0", SIOCSIFADDR, "10.0.2.15") != 0 ||
	    set_addr(s, "eth0", SIOCSIFNETMASK, "255.255.255.0") != 0 || set_up(s, "eth0") != 0) {
		snprintf(ssh_error, sizeof(ssh_error), "configuring eth0: %s%s", strerror(errno),
			 if_nametoindex("eth0") ? "" : " (no eth0: is the NIC there?)");
		close(s);
		return -1;
	}
	memset(&rt, 0, sizeof(rt));
	((struct sockaddr_in *)&rt.rt_dst)->sin_family = AF_INET;
	((struct sockaddr_in *)&rt.rt_genmask)->sin_family = AF_INET;
	((struct sockaddr_in *)&rt.rt_gateway)->sin_family = AF_INET;
	inet_pton(AF_INET, "10.0.2.2", &((struct sockaddr_in *)&rt.rt_gateway)->sin_addr);
	rt.rt_flags = RTF_UP | RTF_GATEWAY;
	ioctl(s, SIOCADDRT, &rt); /* not needed for the host forward: best effort */
	close(s);
	return 0;
}

/* Is something listening on TCP port 22 (/proc/net/tcp, state 0A)? */
static int port22_listening(void)
{
	FILE *f = fopen("/proc/net/tcp", "r");
	char line[256];
	int found = 0;

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, ":0016 00000000:0000 0A") != NULL;
	fclose(f);
	return found;
}

/* dropbear in the foreground (our child), public-key logins only, pinned host key. */
static int start_dropbear(void)
{
	pid_t pid;
	int status, tries;

	mkdir("/var", 0755);
	mkdir("/var/log", 0755);
	pid = fork();
	if (pid < 0) {
		snprintf(ssh_error, sizeof(ssh_error), "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		int log = open(DROPBEAR_LOG, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int null = open("/dev/null", O_RDWR);
		setsid();
		dup2(null, 0);
		dup2(log >= 0 ? log : null, 1);
		dup2(log >= 0 ? log : null, 2);
		execl("/usr/sbin/dropbear", "dropbear", "-F", "-E", "-s", "-r", HOST_KEY, "-p", "22",
		      (char *)NULL);
		dprintf(2, "exec /usr/sbin/dropbear: %s\n", strerror(errno));
		_exit(127);
	}
	for (tries = 0; tries < 500; tries++) {
		if (port22_listening())
			return 0;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			char tail[256] = "";
			int fd = open(DROPBEAR_LOG, O_RDONLY);
			ssize_t n = fd >= 0 ? read(fd, tail, sizeof(tail) - 1) : 0;
			if (fd >= 0)
				close(fd);
			tail[n > 0 ? n : 0] = 0;
			tail[strcspn(tail, "\n")] = 0;
			snprintf(ssh_error, sizeof(ssh_error), "dropbear exited (status %d): %s",
				 status, tail);
			return -1;
		}
		msleep(20);
	}
	snprintf(ssh_error, sizeof(ssh_error), "dropbear is not listening on port 22 after 10 s");
	return -1;
}

static void start_network(void)
{
	mkdir(deploy_dir, 0755);
	ssh_ok = load_modules() == 0 && configure_eth0() == 0 && start_dropbear() == 0;
}

static int unhex(char *s);

/* AUTHKEY: the host's public key for this boot, the only way in over SSH. */
static void cmd_authkey(const char *id, char *hexkey)
{
	int fd;
	size_t len = strlen(hexkey) / 2;

	if (!unhex(hexkey)) {
		frame("%s=ERROR malformed AUTHKEY request", id);
		return;
	}
	mkdir("/root", 0700);
	mkdir("/root/.ssh", 0700);
	chmod("/root", 0700);
	chmod("/root/.ssh", 0700);
	fd = open("/root/.ssh/authorized_keys", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		frame("%s=ERROR authorized_keys: %s", id, strerror(errno));
		return;
	}
	write_all(fd, hexkey, len);
	write_all(fd, "\n", 1);
	fchmod(fd, 0600);
	close(fd);
	frame("%s=EXIT 0", id);
}

/* Console to protocol mode: no echo, canonical lines, no output mangling. */
static void console_protocol_mode(void)
{
	struct termios tio;

	if (tcgetattr(0, &tio) != 0)
		return;
	saved_tio = tio;
	have_saved_tio = 1;
	tio.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL | ECHOCTL | ECHOKE | ISIG);
	tio.c_lflag |= ICANON;
	tio.c_iflag &= ~(tcflag_t)(ICRNL | INLCR | IGNCR | IXON | IXOFF);
	tio.c_oflag &= ~(tcflag_t)OPOST;
	tcsetattr(0, TCSANOW, &tio);
}

/* Append s to out as a JSON string literal (quotes included). */
static size_t json_str(char *out, size_t cap, const char *s)
{
	size_t n = 0;

	if (n < cap)
		out[n++] = '"';
	for (; *s && n + 8 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[n++] = '\\';
			out[n++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
		} else {
			out[n++] = (char)c;
		}
	}
	if (n < cap)
		out[n++] = '"';
	out[n < cap ? n : cap - 1] = 0;
	return n;
}

/* Value of the first "key\t: value" line of /proc/cpuinfo, or "". */
static void cpuinfo_field(const char *key, char *out, size_t cap)
{
	static char buf[65536];
	int fd = open("/proc/cpuinfo", O_RDONLY);
	ssize_t n = 0, r;
	char *p;
	size_t klen = strlen(key);

	out[0] = 0;
	if (fd < 0)
		return;
	while (n < (ssize_t)sizeof(buf) - 1 &&
	       (r = read(fd, buf + n, sizeof(buf) - 1 - (size_t)n)) > 0)
		n += r;
	close(fd);
	buf[n] = 0;
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, key, klen) == 0 && (p[klen] == '\t' || p[klen] == ' ' || p[klen] == ':')) {
			char *colon = strchr(p, ':');
			char *eol = strchr(p, '\n');
			if (!colon || (eol && colon > eol))
				continue;
			colon++;
			while (*colon == ' ')
				colon++;
			size_t len = eol ? (size_t)(eol - colon) : strlen(colon);
			if (len >= cap)
				len = cap - 1;
			memcpy(out, colon, len);
			out[len] = 0;
			return;
		}
	}
}

/* Start and end of the [vdso] mapping of this process, from /proc/self/maps. */
static int vdso_range(unsigned long *start, unsigned long *end)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "[vdso]") && sscanf(line, "%lx-%lx", start, end) == 2) {
			fclose(f);
			return 0;
		}
	}
	fclose(f);
	return -1;
}

/* The READY JSON: who this guest is, as CPUID, the kernel and the auxv say. */
static const char *identity_json(void)
{
	static char json[16384];
	char tmp[4096], vendor[13] = { 0 }, brand[49] = { 0 };
	unsigned int a, b, c, d, max_ext;
	unsigned int l1a = 0, l1c = 0, l1d = 0, e1c = 0, e1d = 0;
	unsigned long vs = 0, ve = 0;
	struct utsname un;
	size_t n = 0;

	__cpuid(0, a, b, c, d);
	memcpy(vendor, &b, 4);
	memcpy(vendor + 4, &d, 4);
	memcpy(vendor + 8, &c, 4);
	__cpuid(1, l1a, b, l1c, l1d);
	__cpuid(0x80000000, max_ext, b, c, d);
	if (max_ext >= 0x80000001)
		__cpuid(0x80000001, a, b, e1c, e1d);
	if (max_ext >= 0x80000004) {
		unsigned int *w = (unsigned int *)brand;
		for (unsigned int leaf = 0; leaf < 3; leaf++)
			__cpuid(0x80000002 + leaf, w[leaf * 4], w[leaf * 4 + 1], w[leaf * 4 + 2],
				w[leaf * 4 + 3]);
	}
	unsigned int family = (l1a >> 8) & 0xf, model = (l1a >> 4) & 0xf;
	if (family == 0xf)
		family += (l1a >> 20) & 0xff;
	if (family >= 6)
		model += ((l1a >> 16) & 0xf) << 4;
	uname(&un);
	vdso_range(&vs, &ve);

	n += (size_t)snprintf(json + n, sizeof(json) - n, "{\"vendor\":");
	n += json_str(json + n, sizeof(json) - n, vendor);
	n += (size_t)snprintf(json + n, sizeof(json) - n,
			      ",\"family\":%u,\"model\":%u,\"stepping\":%u"
			      ",\"cpuid_1_ecx\":%u,\"cpuid_1_edx\":%u"
			      ",\"cpuid_80000001_ecx\":%u,\"cpuid_80000001_edx\":%u,\"brand\":",
			      family, model, l1a & 0xf, l1c, l1d, e1c, e1d);
	n += json_str(json + n, sizeof(json) - n, brand);
	cpuinfo_field("vendor_id", tmp, sizeof(tmp));
	n += (size_t)snprintf(json + n, sizeof(json) - n, ",\"cpuinfo_vendor\":");
	n += json_str(json + n, sizeof(json) - n, tmp);
	cpuinfo_field("model name", tmp, sizeof(tmp));
	n += (size_t)snprintf(json + n, sizeof(json) - n, ",\"cpuinfo_model_name\":");
	n += json_str(json + n, sizeof(json) - n, tmp);
	cpuinfo_field("flags", tmp, sizeof(tmp));
	n += (size_t)snprintf(json + n, sizeof(json) - n, ",\"cpuinfo_flags\":");
	n += json_str(json + n, sizeof(json) - n, tmp);
	n += (size_t)snprintf(json + n, sizeof(json) - n, ",\"kernel_release\":");
	n += json_str(json + n, sizeof(json) - n, un.release);
	n += (size_t)snprintf(json + n, sizeof(json) - n, ",\"kernel_version\":");
	n += json_str(json + n, sizeof(json) - n, un.version);
	n += (size_t)snprintf(json + n, sizeof(json) - n, ",\"machine\":");
	n += json_str(json + n, sizeof(json) - n, un.machine);
	n += (size_t)snprintf(json + n, sizeof(json) - n,
			      ",\"at_sysinfo\":%lu,\"at_sysinfo_ehdr\":%lu"
			      ",\"vdso_start\":%lu,\"vdso_end\":%lu,\"nprocs\":%ld}",
			      getauxval(AT_SYSINFO), getauxval(AT_SYSINFO_EHDR), vs, ve,
			      sysconf(_SC_NPROCESSORS_ONLN));
	if (net_wanted) {
		n--; /* reopen the object for the SSH fields */
		n += (size_t)snprintf(json + n, sizeof(json) - n, ",\"ssh\":%s,\"ssh_error\":",
				      ssh_ok ? "true" : "false");
		n += json_str(json + n, sizeof(json) - n, ssh_error);
		snprintf(json + n, sizeof(json) - n, "}");
	}
	return json;
}

static void announce_ready(void)
{
	frame("READY %s", identity_json());
}

/* Decode one hex-encoded argument in place; returns 0 on malformed input. */
static int unhex(char *s)
{
	size_t len = strlen(s), i;

	if (len % 2)
		return 0;
	for (i = 0; i < len; i += 2) {
		unsigned int v;
		if (sscanf(s + i, "%2x", &v) != 1)
			return 0;
		s[i / 2] = (char)v;
	}
	s[len / 2] = 0;
	return 1;
}

/*
 * Read one request line from the console; returns length or -1 on EOF.
 * Buffered, so that several lines arriving in one read() are not lost.
 */
static char rq_buf[LINE_MAX_LEN];
static size_t rq_len;
static ssize_t read_request(char *buf, size_t cap);

static int request_pending(void)
{
	return memchr(rq_buf, '\n', rq_len) != NULL;
}

/* One read() of whatever the host sent, appended to the request buffer. */
static void fill_requests(void)
{
	if (rq_len == sizeof(rq_buf))
		rq_len = 0;
	ssize_t n = read(0, rq_buf + rq_len, sizeof(rq_buf) - rq_len);
	if (n > 0)
		rq_len += (size_t)n;
	else if (n == 0 && serve_mode)
		stdin_eof = 1;
}

/* While a command runs, a pending "KILL <id>" is taken; other requests wait. */
static int take_kill(void)
{
	char line[256];

	if (!request_pending() || strncmp(rq_buf, "KILL ", 5) != 0)
		return 0;
	read_request(line, sizeof(line));
	return 1;
}

static ssize_t read_request(char *buf, size_t cap)
{
	char *nl;

	while ((nl = memchr(rq_buf, '\n', rq_len)) == NULL) {
		if (rq_len == sizeof(rq_buf))
			rq_len = 0; /* an over-long request is dropped whole */
		ssize_t n = read(0, rq_buf + rq_len, sizeof(rq_buf) - rq_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		rq_len += (size_t)n;
	}
	size_t line = (size_t)(nl - rq_buf);
	size_t n = line < cap - 1 ? line : cap - 1;
	memcpy(buf, rq_buf, n);
	buf[n] = 0;
	memmove(rq_buf, nl + 1, rq_len - line - 1);
	rq_len -= line + 1;
	while (n > 0 && buf[n - 1] == '\r')
		buf[--n] = 0;
	return (ssize_t)n;
}

/* Forward complete lines of child output as framed lines; keep the rest. */
static void forward_lines(const char *id, char *buf, size_t *len, int flush)
{
	char *start = buf, *nl;

	while ((nl = memchr(start, '\n', *len - (size_t)(start - buf))) != NULL) {
		*nl = 0;
		frame("%s|%s", id, start);
		start = nl + 1;
	}
	size_t rest = *len - (size_t)(start - buf);
	if (flush && rest) {
		buf[*len] = 0;
		frame("%s|%s", id, start);
		rest = 0;
	} else if (rest == LINE_MAX_LEN) {
		/* An over-long line is cut, not lost: frame what we have. */
		buf[*len] = 0;
		frame("%s|%s", id, start);
		rest = 0;
	}
	memmove(buf, start, rest);
	*len = rest;
}

/* RUN: fork, exec argv with output on a pipe, frame it, report the status. */
static void cmd_run(const char *id, char **argv)
{
	static char out[LINE_MAX_LEN + 1];
	size_t len = 0;
	int pfd[2], status;
	pid_t pid;

	if (pipe(pfd) != 0) {
		frame("%s=ERROR pipe: %s", id, strerror(errno));
		return;
	}
	pid = fork();
	if (pid < 0) {
		frame("%s=ERROR fork: %s", id, strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		setpgid(0, 0);
		dup2(devnull >= 0 ? devnull : 0, 0);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close(pfd[0]);
		close(pfd[1]);
		signal(SIGPIPE, SIG_DFL);
		if (strncmp(argv[0], "/lab/bin/", 9) == 0) {
			/* A program deployed over SFTP wins over the image's copy. */
			static char deployed[2048];
			snprintf(deployed, sizeof(deployed), "%s/%s", deploy_dir, argv[0] + 9);
			if (access(deployed, X_OK) == 0)
				argv[0] = deployed;
		}
		execvp(argv[0], argv);
		dprintf(2, "entrylab-agent: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);
	close(pfd[1]);
	for (;;) {
		struct pollfd fds[2] = { { pfd[0], POLLIN, 0 }, { 0, POLLIN, 0 } };
		if (request_pending() || stdin_eof)
			fds[1].fd = -1; /* the host is ahead of us: leave it queued */
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (fds[1].revents & POLLIN)
			fill_requests();
		if (take_kill() || stdin_eof) /* serve mode: nobody is left to read it */
			kill(-pid, SIGKILL);
		if (fds[0].revents & (POLLIN | POLLHUP)) {
			ssize_t n = read(pfd[0], out + len, LINE_MAX_LEN - len);
			if (n <= 0)
				break;
			len += (size_t)n;
			forward_lines(id, out, &len, 0);
		}
	}
	forward_lines(id, out, &len, 1);
	close(pfd[0]);
	/* Whatever the child left behind in its group goes with it. */
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	kill(-pid, SIGKILL);
	if (WIFSIGNALED(status))
		frame("%s=SIGNAL %d", id, WTERMSIG(status));
	else
		frame("%s=EXIT %d", id, WEXITSTATUS(status));
}

/* VDSO: the whole [vdso] mapping, 64 bytes per framed hex line. */
static void cmd_vdso(const char *id)
{
	unsigned long start, end;
	char hex[129];

	if (vdso_range(&start, &end) != 0) {
		frame("%s=ERROR no [vdso] mapping in /proc/self/maps", id);
		return;
	}
	for (unsigned long p = start; p < end; p += 64) {
		const unsigned char *b = (const unsigned char *)p;
		for (int i = 0; i < 64; i++)
			snprintf(hex + 2 * i, 3, "%02x", b[i]);
		frame("%s|%s", id, hex);
	}
	frame("%s=EXIT 0", id);
}

/* SHELL: a job-control busybox shell owning the console until it exits. */
static void cmd_shell(void)
{
	pid_t pid;
	int status;

	if (have_saved_tio)
		tcsetattr(0, TCSANOW, &saved_tio);
	pid = fork();
	if (pid == 0) {
		setsid();
		ioctl(0, TIOCSCTTY, 1);
		setenv("PS1", "entrylab# ", 1);
		execl("/bin/sh", "sh", "-i", (char *)NULL);
		_exit(127);
	}
	while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	console_protocol_mode();
	frame("SHELL-EXIT");
}

static void power_off(void)
{
	if (serve_mode || getpid() != 1)
		exit(0); /* never power off a machine we were only a guest program on */
	sync();
	reboot(RB_POWER_OFF);
	/* Machines without ACPI cannot power off; the host stops QEMU via QMP. */
	for (;;)
		pause();
}

/* `serve NONCE [--bin DIR]` and `info`: the SSH transport's modes (see the top). */
static int other_mode(int argc, char **argv)
{
	char path[sizeof(deploy_dir) + 64];

	if (argc >= 2 && strcmp(argv[1], "info") == 0) {
		printf("%s\n", identity_json());
		return 1;
	}
	if (argc < 3 || strcmp(argv[1], "serve") != 0) {
		fprintf(stderr, "usage: %s serve NONCE [--bin DIR] | %s info\n", argv[0], argv[0]);
		exit(2);
	}
	serve_mode = 1;
	snprintf(nonce, sizeof(nonce), "%s", argv[2]);
	if (argc >= 5 && strcmp(argv[3], "--bin") == 0)
		snprintf(deploy_dir, sizeof(deploy_dir), "%s", argv[4]);
	snprintf(path, sizeof(path), "%s:/lab/bin:/bin:/sbin:/usr/bin:/usr/sbin", deploy_dir);
	setenv("PATH", path, 1);
	return 0;
}

int main(int main_argc, char **main_argv)
{
	static char req[LINE_MAX_LEN];
	char *argv[MAX_ARGS + 1];

	signal(SIGPIPE, SIG_IGN);
	if (getpid() == 1)
		mount_basics();
	setenv("PATH", "/lab/bin-deployed:/lab/bin:/bin:/sbin:/usr/bin:/usr/sbin", 1);
	setenv("HOME", "/root", 1);
	if (getpid() != 1 && main_argc > 1) {
		if (other_mode(main_argc, main_argv))
			return 0;
	} else {
		read_nonce();
		console_protocol_mode();
		if (net_wanted)
			start_network();
	}
	announce_ready();

	for (;;) {
		if (read_request(req, sizeof(req)) < 0) {
			if (getpid() != 1)
				return 0;
			sleep(1);
			continue;
		}
		char *save = NULL, *verb = strtok_r(req, " ", &save);
		if (!verb)
			continue;
		if (strcmp(verb, "POWEROFF") == 0) {
			power_off();
		} else if (strcmp(verb, "SHELL") == 0 && !serve_mode) {
			cmd_shell();
		} else if (strcmp(verb, "AUTHKEY") == 0) {
			char *id = strtok_r(NULL, " ", &save);
			char *key = strtok_r(NULL, " ", &save);
			if (id && key)
				cmd_authkey(id, key);
			else
				frame("?=ERROR AUTHKEY needs an id and a key");
		} else if (strcmp(verb, "VDSO") == 0 || strcmp(verb, "RUN") == 0) {
			char *id = strtok_r(NULL, " ", &save);
			int argc = 0, ok = 1;
			char *a;

			if (!id) {
				frame("?=ERROR %s without an id", verb);
				continue;
			}
			if (verb[0] == 'V') {
				cmd_vdso(id);
				continue;
			}
			while ((a = strtok_r(NULL, " ", &save)) != NULL && argc < MAX_ARGS) {
				ok &= unhex(a);
				argv[argc++] = a;
			}
			argv[argc] = NULL;
			if (!ok || argc == 0)
				frame("%s=ERROR malformed RUN request", id);
			else
				cmd_run(id, argv);
		} else if (strcmp(verb, "KILL") == 0) {
			/* Nothing is running: the command already finished. */
		} else if (strcmp(verb, "PING") == 0) {
			/* The protocol's own round trip, without fork/exec (lab bench). */
			char *id = strtok_r(NULL, " ", &save);
			frame("%s=EXIT 0", id ? id : "?");
		} else {
			frame("?=ERROR unknown request %s", verb);
		}
	}
}
