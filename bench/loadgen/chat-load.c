/*
 * chat-load: the measuring client of the chat benchmark (bench/chat.ts). N members, one socket
 * each, as N separate seed clients (or wharf clients) would be; some of them talk at a paced rate,
 * all of them listen; every delivery is counted and timed.
 *
 * Built on demand by bench/chat.ts with `cc -O2 -pthread` into bench/.tmp/.
 *
 *   chat-load --mode udp|tcp|self --port P [--host 127.0.0.1] [--members N] [--senders S]
 *             [--rate MSGS_PER_S] [--warmup W] [--duration D] [--drain X] [--size B]
 *             [--rcvbuf BYTES] [--prefix NAME] [--poll-ms MS] [--pids a,b,c] [--port2 P2]
 *
 * --port2 (tcp) every other member connects to this port instead: two nodes sharing one room.
 *
 * udp   the seed protocol: each member logs in (`L name`, waits for OK), senders send
 *       `C name SEQ T padding`; a member receives `name : SEQ T padding` for every message but its
 *       own. Expected deliveries = messages x (N - 1).
 * tcp   wharf's protocol: hello, wait for `synced`, senders send `say` frames; every member,
 *       the sender too, receives each `msg` frame. Expected deliveries = messages x N.
 * self  no server: the sending thread itself fans every message out to the N - 1 other member
 *       sockets (sendmmsg), to measure how much this client can receive without loss.
 *
 * Proof that the client is not the bottleneck, in the output:
 *  - clientDrops: datagrams the kernel dropped at the members' own sockets (SO_RXQ_OVFL, per
 *    socket, exact). Every other loss happened before a datagram reached a member socket, i.e. at
 *    the server (its receive queue, its send path).
 *  - receiverBusyPercent: CPU of the receiving thread over its run (getrusage RUSAGE_THREAD);
 *    well below 100 means it was waiting for datagrams, not behind them.
 *  - udpRcvbufErrors / udpInErrors: the machine's UDP drop counters (/proc/net/snmp) over the
 *    window, which include the server's socket (clientDrops are a part of them).
 *
 * Sending is paced by a clock: message k leaves at start + k / rate (bursts catch up when the
 * thread was descheduled). Only messages sent in the measured window are counted; each carries
 * its number and its send time (CLOCK_MONOTONIC, ns), so a delivery is attributed exactly and its
 * latency measured. After the window, the client keeps receiving for --drain seconds.
 *
 * Output: one JSON object on stdout. Exit status 0, or 1 with "error" set.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef SO_RXQ_OVFL
#define SO_RXQ_OVFL 40
#endif

#define MAX_MEMBERS 20000
#define MAX_PIDS 64
#define BATCH 64
#define DGRAM_MAX 2048
#define TCP_BUF (256 * 1024)
#define HIST_BUCKETS 5000

static struct {
  const char *host;
  int port;
  const char *mode;
  int members, senders;
  double rate, warmup, duration, drain;
  int size;
  int rcvbuf;
  const char *prefix;
  double poll_ms; /* > 0: read every socket this often instead of sleeping in epoll (no wake-ups) */
  int pids[MAX_PIDS];
  int npids;
  int port2;
} opt = {"127.0.0.1", 0, "udp", 100, 10, 1000, 1.0, 3.0, 1.0, 64, 8 << 20, "m", 0, {0}, 0, 0};

static char error_text[512];
static int fds[MAX_MEMBERS];
static uint32_t drops_seen[MAX_MEMBERS];
static struct sockaddr_in server, server2;
static struct sockaddr_in member_addr[MAX_MEMBERS]; /* self mode: where each member listens */

/* Shared between the threads. */
static _Atomic uint64_t first_measured = UINT64_MAX, end_measured = UINT64_MAX; /* message numbers */
static _Atomic int sending_done = 0;
static _Atomic uint64_t sent_total = 0;
static double t_window_start, t_window_end;

/* CPU of the receiving thread over its run, % of one core (set when it ends). */
static double receiver_busy_percent;

/* Receiver-side counts (receiver thread only). */
static uint64_t received, received_all, bad;
static uint64_t hist[HIST_BUCKETS]; /* latency: bucket = microseconds / 10 up to 40 ms, then coarse */
static uint64_t hist_over;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void fail(const char *format, ...) {
  va_list args;
  va_start(args, format);
  vsnprintf(error_text, sizeof error_text, format, args);
  va_end(args);
  printf("{\"error\":\"%s\"}\n", error_text);
  exit(1);
}

static double cpu_seconds(int who) {
  struct rusage usage;
  getrusage(who, &usage);
  return (double)usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + (double)usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

/* utime + stime of every --pids process, in clock ticks; the utime part in *user. */
static double server_ticks(double *user) {
  double total = 0;
  *user = 0;
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
    unsigned long utime = 0, stime = 0;
    /* after "comm)": state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2) continue;
    total += (double)(utime + stime);
    *user += (double)utime;
  }
  return total;
}

/* InErrors and RcvbufErrors from the Udp: line of /proc/net/snmp. */
static void udp_errors(uint64_t *in_errors, uint64_t *rcvbuf_errors) {
  *in_errors = *rcvbuf_errors = 0;
  FILE *f = fopen("/proc/net/snmp", "r");
  if (!f) return;
  char header[1024], values[1024];
  while (fgets(header, sizeof header, f)) {
    if (strncmp(header, "Udp:", 4) != 0) continue;
    if (!fgets(values, sizeof values, f)) break;
    char *hs = NULL, *vs = NULL;
    char *h = strtok_r(header, " \n", &hs), *v = strtok_r(values, " \n", &vs);
    while (h && v) {
      if (strcmp(h, "InErrors") == 0) *in_errors = strtoull(v, NULL, 10);
      if (strcmp(h, "RcvbufErrors") == 0) *rcvbuf_errors = strtoull(v, NULL, 10);
      h = strtok_r(NULL, " \n", &hs);
      v = strtok_r(NULL, " \n", &vs);
    }
    break;
  }
  fclose(f);
}

static void record_latency(uint64_t sent_ns, uint64_t at_ns) {
  uint64_t us = at_ns > sent_ns ? (at_ns - sent_ns) / 1000 : 0;
  uint64_t bucket = us < 40000 ? us / 10 : 4000 + (us - 40000) / 10000; /* 10 us to 40 ms, then 10 ms to 10 s */
  if (bucket < HIST_BUCKETS) hist[bucket]++;
  else hist_over++;
}

static double percentile_us(double p) {
  uint64_t total = hist_over;
  for (int i = 0; i < HIST_BUCKETS; i++) total += hist[i];
  if (total == 0) return -1;
  uint64_t target = (uint64_t)(p * (double)total);
  uint64_t seen = 0;
  for (int i = 0; i < HIST_BUCKETS; i++) {
    seen += hist[i];
    if (seen > target) return i < 4000 ? i * 10.0 + 5 : 40000.0 + (i - 4000) * 10000.0 + 5000;
  }
  return 40000.0 + (HIST_BUCKETS - 4000) * 10000.0;
}

/* "SEQ T" at p: count it if SEQ is in the measured window. */
static void account(const char *p, const char *end, uint64_t at_ns) {
  uint64_t seq = 0, t = 0;
  while (p < end && *p == ' ') p++;
  if (p >= end || *p < '0' || *p > '9') {
    bad++;
    return;
  }
  while (p < end && *p >= '0' && *p <= '9') seq = seq * 10 + (uint64_t)(*p++ - '0');
  if (p < end && *p == ' ') p++;
  while (p < end && *p >= '0' && *p <= '9') t = t * 10 + (uint64_t)(*p++ - '0');
  received_all++;
  if (seq >= atomic_load(&first_measured) && seq < atomic_load(&end_measured)) {
    received++;
    record_latency(t, at_ns);
  }
}

static void set_rcvbuf(int fd) {
  int size = opt.rcvbuf;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
}

/* ------------------------------------------------------------------------------------------ */
/* UDP (seed protocol) and self mode                                                          */

static void udp_open_members(void) {
  for (int i = 0; i < opt.members; i++) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (fd < 0) fail("socket: %s", strerror(errno));
    set_rcvbuf(fd);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
    struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = 0};
    inet_pton(AF_INET, "127.0.0.1", &local.sin_addr);
    if (bind(fd, (struct sockaddr *)&local, sizeof local) != 0) fail("bind: %s", strerror(errno));
    socklen_t len = sizeof member_addr[i];
    getsockname(fd, (struct sockaddr *)&member_addr[i], &len);
    fds[i] = fd;
  }
}

static void udp_drain_all(void) {
  char buf[DGRAM_MAX];
  for (int i = 0; i < opt.members; i++)
    while (recv(fds[i], buf, sizeof buf, 0) > 0) {
    }
}

static void udp_login_all(void) {
  char msg[256], buf[DGRAM_MAX];
  for (int i = 0; i < opt.members; i++) {
    int n = snprintf(msg, sizeof msg, "L %s%d", opt.prefix, i);
    int ok = 0;
    for (int attempt = 0; attempt < 10 && !ok; attempt++) {
      sendto(fds[i], msg, (size_t)n, 0, (struct sockaddr *)&server, sizeof server);
      double deadline = now() + 0.5;
      while (!ok && now() < deadline) {
        struct pollfd p = {.fd = fds[i], .events = POLLIN};
        if (poll(&p, 1, 50) <= 0) continue;
        ssize_t got;
        while ((got = recv(fds[i], buf, sizeof buf, 0)) > 0) {
          if (got == 2 && memcmp(buf, "OK", 2) == 0) ok = 1;
          else if (got == 4 && memcmp(buf, "FAIL", 4) == 0) fail("the server refused the name %s%d", opt.prefix, i);
        }
      }
    }
    if (!ok) fail("no OK for member %d", i);
  }
}

static void udp_logout_all(void) {
  char msg[256];
  for (int i = 0; i < opt.members; i++) {
    int n = snprintf(msg, sizeof msg, "E %s%d", opt.prefix, i);
    sendto(fds[i], msg, (size_t)n, 0, (struct sockaddr *)&server, sizeof server);
  }
}

static int epoll_all(void) {
  int ep = epoll_create1(0);
  for (int i = 0; i < opt.members; i++) {
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
  }
  return ep;
}

/* Read everything waiting on member m's socket. */
static void udp_read_member(int m) {
  static char bufs[BATCH][DGRAM_MAX];
  static char controls[BATCH][64];
  static struct mmsghdr msgs[BATCH];
  static struct iovec iovs[BATCH];
  for (;;) {
    for (int i = 0; i < BATCH; i++) {
      iovs[i].iov_base = bufs[i];
      iovs[i].iov_len = DGRAM_MAX;
      memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_control = controls[i];
      msgs[i].msg_hdr.msg_controllen = sizeof controls[i];
    }
    int got = recvmmsg(fds[m], msgs, BATCH, MSG_DONTWAIT, NULL);
    if (got <= 0) return;
    uint64_t at = now_ns();
    for (int i = 0; i < got; i++) {
      for (struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
          uint32_t drops;
          memcpy(&drops, CMSG_DATA(c), sizeof drops);
          if (drops > drops_seen[m]) drops_seen[m] = drops;
        }
      }
      const char *p = bufs[i], *end = bufs[i] + msgs[i].msg_len;
      const char *sep = memmem(p, (size_t)(end - p), " : ", 3);
      if (!sep) {
        bad++;
        continue;
      }
      account(sep + 3, end, at);
    }
    if (got < BATCH) return;
  }
}

static void *udp_receiver(void *arg) {
  (void)arg;
  const double cpu_start = cpu_seconds(RUSAGE_THREAD), wall_start = now();
  int ep = opt.poll_ms > 0 ? -1 : epoll_all();
  struct epoll_event events[256];
  double stop_at = 0;
  for (;;) {
    if (atomic_load(&sending_done) && stop_at == 0) stop_at = now() + opt.drain;
    if (stop_at != 0 && now() >= stop_at) break;
    if (opt.poll_ms > 0) {
      /* Nobody waits on the sockets, so a delivery never has to wake this thread up. */
      struct timespec pause = {0, (long)(opt.poll_ms * 1e6)};
      nanosleep(&pause, NULL);
      for (int m = 0; m < opt.members; m++) udp_read_member(m);
      continue;
    }
    int n = epoll_wait(ep, events, 256, 5);
    for (int e = 0; e < n; e++) udp_read_member((int)events[e].data.u32);
  }
  if (ep >= 0) close(ep);
  receiver_busy_percent = 100.0 * (cpu_seconds(RUSAGE_THREAD) - cpu_start) / (now() - wall_start);
  return NULL;
}

/* The text of message `seq` (without the protocol's framing). */
static int message_text(char *out, size_t cap, uint64_t seq) {
  int n = snprintf(out, cap, "%llu %llu ", (unsigned long long)seq, (unsigned long long)now_ns());
  while (n < opt.size && (size_t)n < cap - 1) out[n++] = 'x';
  out[n] = 0;
  return n;
}

/* Self mode: send one message's datagram to every member but one, with sendmmsg. */
static void self_fanout(int from, const char *line, int len) {
  static struct mmsghdr msgs[BATCH];
  static struct iovec iov;
  iov.iov_base = (void *)line;
  iov.iov_len = (size_t)len;
  int k = 0;
  for (int i = 0; i < opt.members; i++) {
    if (i == from) continue;
    memset(&msgs[k], 0, sizeof msgs[k]);
    msgs[k].msg_hdr.msg_iov = &iov;
    msgs[k].msg_hdr.msg_iovlen = 1;
    msgs[k].msg_hdr.msg_name = &member_addr[i];
    msgs[k].msg_hdr.msg_namelen = sizeof member_addr[i];
    if (++k == BATCH) {
      sendmmsg(fds[from], msgs, (unsigned)k, 0);
      k = 0;
    }
  }
  if (k) sendmmsg(fds[from], msgs, (unsigned)k, 0);
}

/* ------------------------------------------------------------------------------------------ */
/* TCP (wharf's protocol)                                                                     */

static char *tcp_in[MAX_MEMBERS];
static size_t tcp_len[MAX_MEMBERS];
static pthread_mutex_t tcp_write_lock = PTHREAD_MUTEX_INITIALIZER;

static void tcp_send_frame(int fd, const char *json, size_t len) {
  char head[4] = {(char)(len >> 24), (char)(len >> 16), (char)(len >> 8), (char)len};
  struct iovec iov[2] = {{head, 4}, {(void *)json, len}};
  size_t total = 4 + len, done = 0;
  while (done < total) {
    struct msghdr m = {0};
    struct iovec rest[2];
    int count = 0;
    size_t skip = done;
    for (int i = 0; i < 2; i++) {
      if (skip >= iov[i].iov_len) {
        skip -= iov[i].iov_len;
        continue;
      }
      rest[count].iov_base = (char *)iov[i].iov_base + skip;
      rest[count].iov_len = iov[i].iov_len - skip;
      skip = 0;
      count++;
    }
    m.msg_iov = rest;
    m.msg_iovlen = (size_t)count;
    ssize_t n = sendmsg(fd, &m, MSG_NOSIGNAL);
    if (n > 0) done += (size_t)n;
    else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      struct pollfd p = {.fd = fd, .events = POLLOUT};
      poll(&p, 1, 100);
    } else
      fail("send: %s", strerror(errno));
  }
}

/* Take whole frames out of member m's buffer; `synced` is set when a synced frame is seen. */
static void tcp_frames(int m, int *synced, uint64_t at) {
  size_t pos = 0;
  while (tcp_len[m] - pos >= 4) {
    unsigned char *h = (unsigned char *)tcp_in[m] + pos;
    size_t len = ((size_t)h[0] << 24) | ((size_t)h[1] << 16) | ((size_t)h[2] << 8) | h[3];
    if (len > TCP_BUF - 4) fail("frame of %zu bytes", len);
    if (tcp_len[m] - pos < 4 + len) break;
    const char *body = tcp_in[m] + pos + 4, *end = body + len;
    if (len > 13 && memcmp(body, "{\"type\":\"msg\"", 13) == 0) {
      const char *text = memmem(body, len, "\"text\":\"", 8);
      if (text) account(text + 8, end, at);
      else bad++;
    } else if (synced && memmem(body, len, "\"type\":\"synced\"", 15)) {
      *synced = 1;
    } else if (memmem(body, len, "\"type\":\"error\"", 14)) {
      fprintf(stderr, "chat-load: server error: %.*s\n", (int)len, body);
    }
    pos += 4 + len;
  }
  memmove(tcp_in[m], tcp_in[m] + pos, tcp_len[m] - pos);
  tcp_len[m] -= pos;
}

static int tcp_read(int m, int *synced) {
  for (;;) {
    if (tcp_len[m] == TCP_BUF) fail("member %d: buffer full", m);
    ssize_t n = recv(fds[m], tcp_in[m] + tcp_len[m], TCP_BUF - tcp_len[m], 0);
    if (n > 0) {
      tcp_len[m] += (size_t)n;
      tcp_frames(m, synced, now_ns());
      continue;
    }
    if (n == 0) return -1;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    return -1;
  }
}

static void tcp_connect_all(void) {
  char json[256];
  for (int i = 0; i < opt.members; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) fail("socket: %s", strerror(errno));
    set_rcvbuf(fd);
    struct sockaddr_in *to = opt.port2 && i % 2 ? &server2 : &server;
    if (connect(fd, (struct sockaddr *)to, sizeof *to) != 0) fail("connect: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    fds[i] = fd;
    tcp_in[i] = malloc(TCP_BUF);
    tcp_len[i] = 0;
    int n = snprintf(json, sizeof json, "{\"type\":\"hello\",\"name\":\"%s%d\"}", opt.prefix, i);
    tcp_send_frame(fd, json, (size_t)n);
    int synced = 0;
    double deadline = now() + 10;
    while (!synced) {
      if (now() > deadline) fail("member %d: no synced", i);
      struct pollfd p = {.fd = fd, .events = POLLIN};
      poll(&p, 1, 100);
      if (tcp_read(i, &synced) < 0) fail("member %d: connection closed while joining", i);
    }
  }
}

static void *tcp_receiver(void *arg) {
  (void)arg;
  const double cpu_start = cpu_seconds(RUSAGE_THREAD), wall_start = now();
  int ep = epoll_all();
  struct epoll_event events[256];
  double stop_at = 0;
  for (;;) {
    if (atomic_load(&sending_done) && stop_at == 0) stop_at = now() + opt.drain;
    if (stop_at != 0 && now() >= stop_at) break;
    int n = epoll_wait(ep, events, 256, 5);
    for (int e = 0; e < n; e++) {
      int m = (int)events[e].data.u32;
      if (tcp_read(m, NULL) < 0) {
        epoll_ctl(ep, EPOLL_CTL_DEL, fds[m], NULL);
        fprintf(stderr, "chat-load: member %d was disconnected\n", m);
      }
    }
  }
  close(ep);
  receiver_busy_percent = 100.0 * (cpu_seconds(RUSAGE_THREAD) - cpu_start) / (now() - wall_start);
  return NULL;
}

/* ------------------------------------------------------------------------------------------ */

static void *sender(void *arg) {
  (void)arg;
  char text[DGRAM_MAX], line[DGRAM_MAX + 256];
  const int udp = strcmp(opt.mode, "udp") == 0, self = strcmp(opt.mode, "self") == 0;
  const double start = now();
  const double measure_from = start + opt.warmup, measure_to = measure_from + opt.duration;
  uint64_t seq = 0;
  int measuring = 0;
  for (;;) {
    double t = now();
    if (!measuring && t >= measure_from) {
      measuring = 1;
      atomic_store(&first_measured, seq);
      t_window_start = t;
    }
    if (t >= measure_to) {
      atomic_store(&end_measured, seq);
      t_window_end = t;
      break;
    }
    uint64_t due = (uint64_t)((t - start) * opt.rate);
    while (seq < due) {
      int from = (int)(seq % (uint64_t)opt.senders);
      int n = message_text(text, sizeof text, seq);
      if (udp) {
        int len = snprintf(line, sizeof line, "C %s%d %s", opt.prefix, from, text);
        sendto(fds[from], line, (size_t)len, 0, (struct sockaddr *)&server, sizeof server);
      } else if (self) {
        int len = snprintf(line, sizeof line, "%s%d : %s", opt.prefix, from, text);
        self_fanout(from, line, len);
      } else {
        int len = snprintf(line, sizeof line, "{\"type\":\"say\",\"text\":\"%.*s\"}", n, text);
        pthread_mutex_lock(&tcp_write_lock);
        tcp_send_frame(fds[from], line, (size_t)len);
        pthread_mutex_unlock(&tcp_write_lock);
      }
      seq++;
    }
    struct timespec pause = {0, 200000}; /* 0.2 ms */
    nanosleep(&pause, NULL);
  }
  atomic_store(&sent_total, seq);
  atomic_store(&sending_done, 1);
  return NULL;
}

static void parse_pids(const char *text) {
  const char *p = text;
  while (*p && opt.npids < MAX_PIDS) {
    opt.pids[opt.npids++] = atoi(p);
    const char *comma = strchr(p, ',');
    if (!comma) break;
    p = comma + 1;
  }
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : "";
    if (!strcmp(a, "--host")) opt.host = v, i++;
    else if (!strcmp(a, "--port")) opt.port = atoi(v), i++;
    else if (!strcmp(a, "--mode")) opt.mode = v, i++;
    else if (!strcmp(a, "--members")) opt.members = atoi(v), i++;
    else if (!strcmp(a, "--senders")) opt.senders = atoi(v), i++;
    else if (!strcmp(a, "--rate")) opt.rate = atof(v), i++;
    else if (!strcmp(a, "--warmup")) opt.warmup = atof(v), i++;
    else if (!strcmp(a, "--duration")) opt.duration = atof(v), i++;
    else if (!strcmp(a, "--drain")) opt.drain = atof(v), i++;
    else if (!strcmp(a, "--size")) opt.size = atoi(v), i++;
    else if (!strcmp(a, "--rcvbuf")) opt.rcvbuf = atoi(v), i++;
    else if (!strcmp(a, "--prefix")) opt.prefix = v, i++;
    else if (!strcmp(a, "--poll-ms")) opt.poll_ms = atof(v), i++;
    else if (!strcmp(a, "--pids")) parse_pids(v), i++;
    else if (!strcmp(a, "--port2")) opt.port2 = atoi(v), i++;
    else fail("unknown argument %s", a);
  }
  if (opt.members < 2 || opt.members > MAX_MEMBERS) fail("--members must be 2..%d", MAX_MEMBERS);
  if (opt.senders < 1 || opt.senders > opt.members) opt.senders = opt.members;
  if (opt.size > 1000) opt.size = 1000; /* the seed server reads 1,024 bytes */
  const int udp = strcmp(opt.mode, "udp") == 0, self = strcmp(opt.mode, "self") == 0, tcp = strcmp(opt.mode, "tcp") == 0;
  if (!udp && !self && !tcp) fail("--mode is udp, tcp or self");
  server.sin_family = AF_INET;
  server.sin_port = htons((uint16_t)opt.port);
  if (inet_pton(AF_INET, opt.host, &server.sin_addr) != 1) fail("bad --host");
  server2 = server;
  server2.sin_port = htons((uint16_t)opt.port2);

  double t_join = now();
  if (tcp) tcp_connect_all();
  else {
    udp_open_members();
    if (udp) udp_login_all();
  }
  double join_seconds = now() - t_join;
  /* Let the join announcements arrive, then start from empty queues. */
  usleep(300000);
  if (udp || self) udp_drain_all();
  else
    for (int i = 0; i < opt.members; i++) {
      tcp_read(i, NULL);
      tcp_len[i] = 0;
    }
  memset(drops_seen, 0, sizeof drops_seen);
  received = received_all = bad = 0;

  uint64_t in_errors0, rcvbuf_errors0, in_errors1, rcvbuf_errors1;
  pthread_t receiver_thread, sender_thread;
  pthread_create(&receiver_thread, NULL, tcp ? tcp_receiver : udp_receiver, NULL);
  pthread_create(&sender_thread, NULL, sender, NULL);

  /* Sample CPU at the window's edges (the sender sets t_window_start). */
  while (atomic_load(&first_measured) == UINT64_MAX) usleep(1000);
  udp_errors(&in_errors0, &rcvbuf_errors0);
  double user0, user1;
  double cpu0 = cpu_seconds(RUSAGE_SELF), server0 = server_ticks(&user0), wall0 = now();
  while (!atomic_load(&sending_done)) usleep(1000);
  double cpu1 = cpu_seconds(RUSAGE_SELF), server1 = server_ticks(&user1), wall1 = now();
  udp_errors(&in_errors1, &rcvbuf_errors1);
  pthread_join(sender_thread, NULL);
  /* The receiver measures its own thread's CPU over its whole run. */
  pthread_join(receiver_thread, NULL);

  uint64_t drops = 0;
  for (int i = 0; i < opt.members; i++) drops += drops_seen[i];
  if (udp) udp_logout_all();
  for (int i = 0; i < opt.members; i++) close(fds[i]);

  uint64_t messages = atomic_load(&end_measured) - atomic_load(&first_measured);
  uint64_t per_message = tcp ? (uint64_t)opt.members : (uint64_t)(opt.members - 1);
  uint64_t expected = messages * per_message;
  double window = t_window_end - t_window_start;
  double ticks = (double)sysconf(_SC_CLK_TCK);
  double wall = wall1 - wall0;
  printf("{\"mode\":\"%s\",\"members\":%d,\"senders\":%d,\"rate\":%.1f,\"seconds\":%.3f,\"joinSeconds\":%.3f,"
         "\"messages\":%llu,\"expected\":%llu,\"received\":%llu,\"lost\":%lld,\"lossPercent\":%.4f,"
         "\"deliveriesPerSecond\":%.1f,\"offeredDeliveriesPerSecond\":%.1f,\"p50Us\":%.0f,\"p99Us\":%.0f,\"maxBucketUs\":%.0f,"
         "\"clientDrops\":%llu,\"udpInErrors\":%llu,\"udpRcvbufErrors\":%llu,\"clientCpuPercent\":%.1f,\"receiverBusyPercent\":%.1f,\"serverCpuPercent\":%.1f,\"serverUserCpuPercent\":%.1f,\"bad\":%llu}\n",
         opt.mode, opt.members, opt.senders, opt.rate, window, join_seconds, (unsigned long long)messages, (unsigned long long)expected,
         (unsigned long long)received, (long long)expected - (long long)received,
         expected ? 100.0 * (double)((long long)expected - (long long)received) / (double)expected : 0.0,
         window > 0 ? (double)received / window : 0.0, opt.rate * (double)per_message, percentile_us(0.5), percentile_us(0.99), percentile_us(0.9999),
         (unsigned long long)drops, (unsigned long long)(in_errors1 - in_errors0), (unsigned long long)(rcvbuf_errors1 - rcvbuf_errors0),
         wall > 0 ? 100.0 * (cpu1 - cpu0) / wall : 0.0, receiver_busy_percent, wall > 0 ? 100.0 * (server1 - server0) / ticks / wall : 0.0,
         wall > 0 ? 100.0 * (user1 - user0) / ticks / wall : 0.0, (unsigned long long)bad);
  return 0;
}
