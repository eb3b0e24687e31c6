/*
 * echo-load: a load generator for echo servers (TCP and UDP), written so that it is never the
 * bottleneck of the benchmark: one thread, epoll, non-blocking sockets, no allocation on the data
 * path, and one read/write per readiness event.
 *
 * Built on demand by bench/lib/loadgen.ts with `cc -O2` into bench/.tmp/.
 *
 *   echo-load --port P [--host 127.0.0.1] --mode tcp|stream|udp
 *             [--conns N] [--inflight K] [--size S] [--split 0|1] [--warmup W] [--duration D] [--pids a,b,c]
 *
 * tcp     N connections, each keeping K messages of S bytes in flight: whenever m whole messages
 *         have come back, m more are sent in one write. Counts complete echoes.
 * stream  one connection sending 1 MiB blocks as fast as the echo comes back, with at most
 *         --inflight blocks (default 4) outstanding (so a server without back-pressure cannot be
 *         made to buffer without bound). Counts bytes echoed.
 * udp     N connected UDP sockets, each keeping K datagrams of S bytes in flight (recvmmsg and
 *         sendmmsg: one call per batch, so the generator stays cheap). Nothing is ever
 *         resent: a socket that has heard nothing for 50 ms writes its outstanding datagrams off
 *         as lost and sends fresh ones. Counts replies; reports loss.
 *
 * Every echoed byte is verified: each connection's byte stream is a pseudo-random pattern (a
 * different phase per connection), and what comes back must be exactly what was sent, in order.
 * A UDP datagram carries its sequence number and socket id and is checked the same way.
 *
 * Warm-up W seconds first (not counted), then D seconds counted; then sending stops and every
 * outstanding echo is awaited (TCP) or given 300 ms (UDP) before the sockets close cleanly.
 * At the window's edges it samples its own CPU time (getrusage) and the servers' (utime+stime
 * from /proc/PID/stat for every --pids entry), so the report can show who used the CPU.
 *
 * Output: one JSON object on stdout. Exit status 0, or 1 with "error" set in the JSON.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PAT_LEN 65521u            /* prime: message boundaries fall at a different phase every time */
#define MAX_IO (1u << 20)         /* largest single write; the pattern is extended by this much */
#define READ_BUF (256u * 1024u)
#define MAX_PIDS 64
#define UDP_TIMEOUT_S 0.05
#define MAX_EVENTS 256

static unsigned char *pattern; /* PAT_LEN + MAX_IO bytes; pattern[i] == pattern[i % PAT_LEN] */
static unsigned char read_buf[READ_BUF];
static char error_text[512];

static struct {
  const char *host;
  int port;
  const char *mode;
  int conns, inflight, size;
  int split; /* --split 1: one send() per message (as a client that writes each request on its own) */
  double warmup, duration;
  int pids[MAX_PIDS];
  int npids;
} opt = {"127.0.0.1", 0, "tcp", 1, 1, 64, 0, 0.5, 2.0, {0}, 0};

static struct {
  uint64_t reads, writes, short_writes;
} io;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_self(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         (double)ru.ru_stime.tv_usec / 1e6;
}

/* utime + stime of every --pids process, in seconds (a process that is gone counts 0); *user gets utime alone. */
static double cpu_servers_split(double *user) {
  static long ticks = 0;
  if (!ticks) ticks = sysconf(_SC_CLK_TCK);
  double total = 0, user_total = 0;
  for (int i = 0; i < opt.npids; i++) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", opt.pids[i]);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p) continue;
    /* after ')': state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
    unsigned long long utime = 0, stime = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) == 2) {
      total += (double)(utime + stime) / (double)ticks;
      user_total += (double)utime / (double)ticks;
    }
  }
  if (user) *user = user_total;
  return total;
}

/* Called exactly twice, at the start and at the end of the counted window: the user-space part of
 * each sample lands in srv_user0, then srv_user1. */
static double srv_user0, srv_user1;
static double cpu_servers(void) {
  static int calls = 0;
  return cpu_servers_split(calls++ % 2 == 0 ? &srv_user0 : &srv_user1);
}

/* CPU seconds all processes spent busy since boot (from /proc/stat: everything but idle and iowait). */
static double cpu_machine(void) {
  static long ticks = 0;
  if (!ticks) ticks = sysconf(_SC_CLK_TCK);
  unsigned long long v[10] = {0};
  FILE *f = fopen("/proc/stat", "r");
  if (!f) return 0;
  int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
  fclose(f);
  if (n < 5) return 0;
  unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
  return (double)busy / (double)ticks;
}

static int fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (!error_text[0]) vsnprintf(error_text, sizeof error_text, fmt, ap);
  va_end(ap);
  return -1;
}

static void make_pattern(void) {
  pattern = malloc(PAT_LEN + MAX_IO);
  if (!pattern) exit(2);
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (unsigned i = 0; i < PAT_LEN; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    pattern[i] = (unsigned char)(x >> 24);
  }
  for (unsigned i = PAT_LEN; i < PAT_LEN + MAX_IO; i++) pattern[i] = pattern[i - PAT_LEN];
}

static struct sockaddr_in server_address(void) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)opt.port);
  if (inet_pton(AF_INET, opt.host, &a.sin_addr) != 1) {
    fprintf(stderr, "echo-load: bad IPv4 address %s\n", opt.host);
    exit(2);
  }
  return a;
}

static void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

/* ------------------------------------------------------------------------------------------ */
/* TCP (and stream): each connection's bytes are pattern[(offset + phase) % PAT_LEN]           */

typedef struct {
  int fd;
  unsigned phase;
  uint64_t sent, received, target; /* target: bytes we want to have sent so far */
  int watching_out;
} tcp_conn;

static int epfd;

static void watch_out(tcp_conn *c, int on) {
  if (c->watching_out == on) return;
  struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
  c->watching_out = on;
}

static int tcp_write(tcp_conn *c) {
  while (c->sent < c->target) {
    uint64_t len = c->target - c->sent;
    if (len > MAX_IO) len = MAX_IO;
    if (opt.split && len > (uint64_t)opt.size - c->sent % (uint64_t)opt.size) len = (uint64_t)opt.size - c->sent % (uint64_t)opt.size;
    ssize_t n = send(c->fd, pattern + (c->sent + c->phase) % PAT_LEN, len, MSG_NOSIGNAL);
    if (n > 0) {
      io.writes++;
      c->sent += (uint64_t)n;
      if ((uint64_t)n < len) {
        io.short_writes++;
        break; /* the socket buffer is full: wait for EPOLLOUT rather than spin on EAGAIN */
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    return fail("write: %s", strerror(errno));
  }
  watch_out(c, c->sent < c->target);
  return 0;
}

/* Reads what is there (one read if it did not fill the buffer, like libuv) and verifies it. */
static int tcp_read(tcp_conn *c) {
  for (int rounds = 0; rounds < 8; rounds++) {
    ssize_t n = read(c->fd, read_buf, READ_BUF);
    if (n > 0) {
      io.reads++;
      if (c->received + (uint64_t)n > c->sent) return fail("server echoed more bytes than were sent");
      if (memcmp(read_buf, pattern + (c->received + c->phase) % PAT_LEN, (size_t)n) != 0)
        return fail("echoed bytes differ from the bytes sent (at stream offset %llu)", (unsigned long long)c->received);
      c->received += (uint64_t)n;
      if ((size_t)n < READ_BUF) return 0;
      continue;
    }
    if (n == 0) return fail("server closed the connection");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    return fail("read: %s", strerror(errno));
  }
  return 0;
}

static int run_tcp(int stream) {
  int n = stream ? 1 : opt.conns;
  uint64_t size = stream ? MAX_IO : (uint64_t)opt.size;
  uint64_t window = size * (uint64_t)opt.inflight;
  struct sockaddr_in addr = server_address();
  tcp_conn *conns = calloc((size_t)n, sizeof *conns);
  epfd = epoll_create1(0);
  for (int i = 0; i < n; i++) {
    tcp_conn *c = &conns[i];
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) != 0) return fail("connect %s:%d: %s", opt.host, opt.port, strerror(errno));
    set_nonblocking(c->fd);
    c->phase = (unsigned)(((uint64_t)i * 7919u) % PAT_LEN);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
  }
  double t0 = now(), start = t0 + opt.warmup, end = start + opt.duration, drain_end = 0;
  double cpu0 = 0, srv0 = 0, cpu1 = 0, srv1 = 0, all0 = 0, all1 = 0, t_start = 0, t_end = 0;
  uint64_t msgs0 = 0, bytes0 = 0, msgs1 = 0, bytes1 = 0, reads0 = 0, writes0 = 0, reads1 = 0, writes1 = 0;
  int phase = 0; /* 0 warm-up, 1 counting, 2 draining */
  for (int i = 0; i < n; i++) {
    conns[i].target = window;
    if (tcp_write(&conns[i])) return -1;
  }
  struct epoll_event events[MAX_EVENTS];
  for (;;) {
    double t = now();
    if (phase == 0 && t >= start) {
      phase = 1;
      for (int i = 0; i < n; i++) msgs0 += conns[i].received / size, bytes0 += conns[i].received;
      reads0 = io.reads, writes0 = io.writes;
      cpu0 = cpu_self(), srv0 = cpu_servers(), all0 = cpu_machine(), t_start = now();
    }
    if (phase == 1 && t >= end) {
      phase = 2;
      t_end = now(), cpu1 = cpu_self(), srv1 = cpu_servers(), all1 = cpu_machine();
      for (int i = 0; i < n; i++) msgs1 += conns[i].received / size, bytes1 += conns[i].received;
      reads1 = io.reads, writes1 = io.writes;
      drain_end = t + 3.0;
    }
    if (phase == 2) {
      int done = 1;
      for (int i = 0; i < n; i++)
        if (conns[i].received < conns[i].sent) done = 0;
      if (done) break;
      if (t >= drain_end) return fail("%s", "not every byte sent was echoed back within 3 s after the run");
    }
    double next = phase == 0 ? start : phase == 1 ? end : drain_end;
    int timeout = (int)((next - t) * 1000.0) + 1;
    int ready = epoll_wait(epfd, events, MAX_EVENTS, timeout);
    if (ready < 0 && errno != EINTR) return fail("epoll_wait: %s", strerror(errno));
    for (int e = 0; e < ready; e++) {
      tcp_conn *c = events[e].data.ptr;
      if (events[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        if (tcp_read(c)) return -1;
        if (phase < 2) {
          /* keep K messages in flight: whole messages back => as many new ones out */
          uint64_t want = (c->received / size) * size + window;
          if (want > c->target) c->target = want;
        }
      }
      if (c->sent < c->target && tcp_write(c)) return -1;
    }
  }
  for (int i = 0; i < n; i++) close(conns[i].fd);
  double seconds = t_end - t_start;
  double messages = (double)(msgs1 - msgs0), bytes = (double)(bytes1 - bytes0);
  printf("{\"mode\":\"%s\",\"conns\":%d,\"inflight\":%d,\"size\":%llu,\"warmup\":%.3f,\"seconds\":%.4f,"
         "\"messages\":%.0f,\"bytes\":%.0f,\"messagesPerSecond\":%.1f,\"megabytesPerSecond\":%.2f,"
         "\"clientCpuSeconds\":%.4f,\"clientCpuPercent\":%.1f,\"serverCpuSeconds\":%.3f,\"serverCpuPercent\":%.1f,\"serverUserCpuPercent\":%.1f,\"otherCpuPercent\":%.1f,"
         "\"clientReads\":%llu,\"clientWrites\":%llu,\"clientShortWrites\":%llu,\"split\":%d}\n",
         stream ? "stream" : "tcp", n, opt.inflight, (unsigned long long)size, opt.warmup, seconds, messages, bytes,
         messages / seconds, bytes / seconds / 1e6, cpu1 - cpu0, 100.0 * (cpu1 - cpu0) / seconds, srv1 - srv0,
         100.0 * (srv1 - srv0) / seconds, 100.0 * (srv_user1 - srv_user0) / seconds,
         100.0 * ((all1 - all0) - (cpu1 - cpu0) - (srv1 - srv0)) / seconds, (unsigned long long)(reads1 - reads0), (unsigned long long)(writes1 - writes0),
         (unsigned long long)io.short_writes, opt.split);
  return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* UDP: datagram = [u64 seq][u32 socket id][pattern...]                                        */

typedef struct {
  int fd;
  uint32_t id;
  uint64_t next_seq;    /* sequence number of the next datagram to send */
  uint64_t written_off; /* replies for seq below this were written off as lost */
  int outstanding;
  double last_activity;
} udp_sock;

static struct {
  uint64_t sent, replies, late, timeouts_lost, send_failures;
} udp;

#define UDP_BATCH 64
static unsigned char *udp_out;     /* UDP_BATCH datagrams of opt.size bytes */
static unsigned char *udp_in;      /* UDP_BATCH receive buffers of 65536 bytes */
static struct mmsghdr out_msgs[UDP_BATCH], in_msgs[UDP_BATCH];
static struct iovec out_iov[UDP_BATCH], in_iov[UDP_BATCH];

/* Top the socket up to K datagrams in flight, with one sendmmsg per batch. */
static void udp_fill(udp_sock *s, double t) {
  while (s->outstanding < opt.inflight) {
    int want = opt.inflight - s->outstanding;
    if (want > UDP_BATCH) want = UDP_BATCH;
    for (int i = 0; i < want; i++) {
      unsigned char *d = udp_out + (size_t)i * (size_t)opt.size;
      uint64_t seq = s->next_seq + (uint64_t)i;
      memcpy(d, &seq, 8);
      memcpy(d + 8, &s->id, 4);
      memcpy(d + 12, pattern + (seq * 131u + s->id * 7919u) % PAT_LEN, (size_t)opt.size - 12);
      out_iov[i].iov_base = d;
      out_iov[i].iov_len = (size_t)opt.size;
      memset(&out_msgs[i].msg_hdr, 0, sizeof out_msgs[i].msg_hdr);
      out_msgs[i].msg_hdr.msg_iov = &out_iov[i];
      out_msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n = sendmmsg(s->fd, out_msgs, (unsigned)want, 0);
    io.writes++;
    if (n <= 0) {
      udp.send_failures++;
      break; /* ENOBUFS/EAGAIN: the 50 ms timer refills later */
    }
    s->next_seq += (uint64_t)n;
    s->outstanding += n;
    udp.sent += (uint64_t)n;
    s->last_activity = t;
    if (n < want) break;
  }
}

/* Drain the socket with recvmmsg (a batch per call), verify every reply, then top up. */
static int udp_read(udp_sock *s, int refill, double t) {
  for (;;) {
    for (int i = 0; i < UDP_BATCH; i++) {
      in_iov[i].iov_base = udp_in + (size_t)i * 65536u;
      in_iov[i].iov_len = 65536u;
      memset(&in_msgs[i].msg_hdr, 0, sizeof in_msgs[i].msg_hdr);
      in_msgs[i].msg_hdr.msg_iov = &in_iov[i];
      in_msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int got = recvmmsg(s->fd, in_msgs, UDP_BATCH, MSG_DONTWAIT, NULL);
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == ECONNREFUSED) return fail("%s", "UDP: connection refused (ICMP port unreachable): is the server up?");
      return fail("recvmmsg: %s", strerror(errno));
    }
    io.reads++;
    for (int i = 0; i < got; i++) {
      const unsigned char *d = udp_in + (size_t)i * 65536u;
      uint64_t seq;
      uint32_t id;
      if (in_msgs[i].msg_len != (unsigned)opt.size) return fail("UDP reply of %u bytes, sent %d", in_msgs[i].msg_len, opt.size);
      memcpy(&seq, d, 8);
      memcpy(&id, d + 8, 4);
      if (id != s->id || seq >= s->next_seq) return fail("%s", "UDP reply that was never sent (bad header)");
      if (memcmp(d + 12, pattern + (seq * 131u + s->id * 7919u) % PAT_LEN, (size_t)opt.size - 12) != 0)
        return fail("%s", "UDP reply differs from the datagram sent");
      udp.replies++;
      s->last_activity = t;
      if (seq < s->written_off) {
        udp.late++;
        continue;
      }
      s->outstanding--;
    }
    if (got < UDP_BATCH) break;
  }
  if (refill) udp_fill(s, t);
  return 0;
}

static int run_udp(void) {
  if (opt.size < 16 || opt.size > 65507) return fail("%s", "UDP size must be 16..65507");
  udp_out = malloc((size_t)UDP_BATCH * (size_t)opt.size);
  udp_in = malloc((size_t)UDP_BATCH * 65536u);
  if (!udp_out || !udp_in) return fail("%s", "out of memory");
  struct sockaddr_in addr = server_address();
  udp_sock *socks = calloc((size_t)opt.conns, sizeof *socks);
  epfd = epoll_create1(0);
  double t = now();
  for (int i = 0; i < opt.conns; i++) {
    udp_sock *s = &socks[i];
    s->fd = socket(AF_INET, SOCK_DGRAM, 0);
    int buf = 4 << 20;
    setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    if (connect(s->fd, (struct sockaddr *)&addr, sizeof addr) != 0) return fail("connect: %s", strerror(errno));
    set_nonblocking(s->fd);
    s->id = (uint32_t)i;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
    epoll_ctl(epfd, EPOLL_CTL_ADD, s->fd, &ev);
  }
  double start = t + opt.warmup, end = start + opt.duration, drain_end = 0;
  double cpu0 = 0, srv0 = 0, cpu1 = 0, srv1 = 0, all0 = 0, all1 = 0, t_start = 0, t_end = 0;
  uint64_t replies0 = 0, replies1 = 0, sent0 = 0, sent1 = 0;
  int phase = 0;
  for (int i = 0; i < opt.conns; i++) udp_fill(&socks[i], t);
  struct epoll_event events[MAX_EVENTS];
  double next_timeout_check = t + UDP_TIMEOUT_S;
  for (;;) {
    t = now();
    if (phase == 0 && t >= start) {
      phase = 1;
      replies0 = udp.replies, sent0 = udp.sent;
      cpu0 = cpu_self(), srv0 = cpu_servers(), all0 = cpu_machine(), t_start = now();
    }
    if (phase == 1 && t >= end) {
      phase = 2;
      t_end = now(), cpu1 = cpu_self(), srv1 = cpu_servers(), all1 = cpu_machine();
      replies1 = udp.replies, sent1 = udp.sent;
      drain_end = t + 0.3;
    }
    if (phase == 2 && t >= drain_end) break;
    if (phase < 2 && t >= next_timeout_check) {
      for (int i = 0; i < opt.conns; i++) {
        udp_sock *s = &socks[i];
        if (t - s->last_activity >= UDP_TIMEOUT_S) {
          udp.timeouts_lost += (uint64_t)s->outstanding;
          s->outstanding = 0;
          s->written_off = s->next_seq;
          udp_fill(s, t);
        }
      }
      next_timeout_check = t + UDP_TIMEOUT_S / 2;
    }
    double next = phase == 0 ? start : phase == 1 ? end : drain_end;
    if (phase < 2 && next_timeout_check < next) next = next_timeout_check;
    int timeout = (int)((next - t) * 1000.0) + 1;
    int ready = epoll_wait(epfd, events, MAX_EVENTS, timeout);
    if (ready < 0 && errno != EINTR) return fail("epoll_wait: %s", strerror(errno));
    double te = now();
    for (int e = 0; e < ready; e++)
      if (udp_read(events[e].data.ptr, phase < 2, te)) return -1;
  }
  for (int i = 0; i < opt.conns; i++) close(socks[i].fd);
  double seconds = t_end - t_start;
  double replies = (double)(replies1 - replies0);
  uint64_t lost = udp.sent - udp.replies;
  printf("{\"mode\":\"udp\",\"conns\":%d,\"inflight\":%d,\"size\":%d,\"warmup\":%.3f,\"seconds\":%.4f,"
         "\"messages\":%.0f,\"bytes\":%.0f,\"messagesPerSecond\":%.1f,\"megabytesPerSecond\":%.2f,"
         "\"clientCpuSeconds\":%.4f,\"clientCpuPercent\":%.1f,\"serverCpuSeconds\":%.3f,\"serverCpuPercent\":%.1f,\"serverUserCpuPercent\":%.1f,\"otherCpuPercent\":%.1f,"
         "\"clientReads\":%llu,\"clientWrites\":%llu,\"datagramsSent\":%llu,\"datagramsSentInWindow\":%llu,"
         "\"datagramsLost\":%llu,\"lossPercent\":%.3f,\"lateReplies\":%llu,\"sendFailures\":%llu}\n",
         opt.conns, opt.inflight, opt.size, opt.warmup, seconds, replies, replies * opt.size, replies / seconds,
         replies * opt.size / seconds / 1e6, cpu1 - cpu0, 100.0 * (cpu1 - cpu0) / seconds, srv1 - srv0,
         100.0 * (srv1 - srv0) / seconds, 100.0 * (srv_user1 - srv_user0) / seconds,
         100.0 * ((all1 - all0) - (cpu1 - cpu0) - (srv1 - srv0)) / seconds, (unsigned long long)io.reads, (unsigned long long)io.writes,
         (unsigned long long)udp.sent, (unsigned long long)(sent1 - sent0), (unsigned long long)lost,
         udp.sent ? 100.0 * (double)lost / (double)udp.sent : 0.0, (unsigned long long)udp.late,
         (unsigned long long)udp.send_failures);
  return 0;
}

/* ------------------------------------------------------------------------------------------ */

static void usage(void) {
  fprintf(stderr,
          "usage: echo-load --port P [--host H] [--mode tcp|stream|udp] [--conns N] [--inflight K] [--size S]\n"
          "                 [--split 0|1] [--warmup W] [--duration D] [--pids a,b,c]\n");
  exit(2);
}

int main(int argc, char **argv) {
  int inflight_given = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (i + 1 >= argc) usage();
    const char *v = argv[++i];
    if (!strcmp(a, "--host")) opt.host = v;
    else if (!strcmp(a, "--port")) opt.port = atoi(v);
    else if (!strcmp(a, "--mode")) opt.mode = v;
    else if (!strcmp(a, "--conns")) opt.conns = atoi(v);
    else if (!strcmp(a, "--inflight")) opt.inflight = atoi(v), inflight_given = 1;
    else if (!strcmp(a, "--size")) opt.size = atoi(v);
    else if (!strcmp(a, "--split")) opt.split = atoi(v);
    else if (!strcmp(a, "--warmup")) opt.warmup = atof(v);
    else if (!strcmp(a, "--duration")) opt.duration = atof(v);
    else if (!strcmp(a, "--pids")) {
      char *copy = strdup(v), *save = NULL;
      for (char *p = strtok_r(copy, ",", &save); p && opt.npids < MAX_PIDS; p = strtok_r(NULL, ",", &save)) opt.pids[opt.npids++] = atoi(p);
    } else usage();
  }
  if (opt.port <= 0 || opt.conns < 1 || opt.inflight < 1 || opt.size < 1 || opt.duration <= 0) usage();
  signal(SIGPIPE, SIG_IGN);
  make_pattern();
  int rc;
  if (!strcmp(opt.mode, "tcp")) {
    if ((unsigned)opt.size * (unsigned)opt.inflight > MAX_IO * 64u) return fail("%s", "window too large"), 1;
    rc = run_tcp(0);
  } else if (!strcmp(opt.mode, "stream")) {
    if (!inflight_given) opt.inflight = 4;
    rc = run_tcp(1);
  } else if (!strcmp(opt.mode, "udp")) {
    rc = run_udp();
  } else usage(), rc = -1;
  if (rc != 0) {
    char escaped[1024];
    size_t j = 0;
    for (size_t i = 0; error_text[i] && j < sizeof escaped - 2; i++) {
      if (error_text[i] == '"' || error_text[i] == '\\') escaped[j++] = '\\';
      escaped[j++] = error_text[i];
    }
    escaped[j] = 0;
    printf("{\"mode\":\"%s\",\"error\":\"%s\"}\n", opt.mode, escaped);
    return 1;
  }
  return 0;
}
