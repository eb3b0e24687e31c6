/*
 * The least a lockstep TFTP server can do, in C: for the experiment tftp-lockstep-floor.mts.
 * RRQ only, octet, the blksize option only, no retransmission, no error handling: poll + recv +
 * send on a connected socket, every block copied from the file held in memory.
 *   tftp-floor-server PORT FILE
 * Not a server to use: a yardstick for how fast the round trip itself can be.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
int main(int argc, char **argv) {
  int port = atoi(argv[1]);
  if (argc < 3) return 2;
  int fd = open(argv[2], O_RDONLY); struct stat st; fstat(fd, &st);
  char *data = malloc(st.st_size);
  for (off_t got = 0; got < st.st_size;) { ssize_t r = read(fd, data + got, st.st_size - got); if (r <= 0) return 1; got += r; }
  int ls = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {0}; a.sin_family = AF_INET; a.sin_port = htons(port); a.sin_addr.s_addr = htonl(0x7f000001);
  bind(ls, (void *)&a, sizeof a);
  for (;;) {
    char req[1024]; struct sockaddr_in peer; socklen_t pl = sizeof peer;
    int n = recvfrom(ls, req, sizeof req - 1, 0, (void *)&peer, &pl); req[n] = 0;
    int bs = 512; char *p = req + 2; char *end = req + n; int k = 0; char opt[64] = {0}; int ol = 0;
    while (p < end) { char *s = p; p += strlen(p) + 1; if (k >= 2 && k % 2 == 0 && !strcasecmp(s, "blksize") && p < end) { bs = atoi(p); ol = 2 + sprintf(opt + 2, "blksize") + 1; ol += sprintf(opt + ol, "%d", bs) + 1; opt[0] = 0; opt[1] = 6; } k++; }
    int s = socket(AF_INET, SOCK_DGRAM, 0); struct sockaddr_in b = a; b.sin_port = 0; bind(s, (void *)&b, sizeof b); connect(s, (void *)&peer, pl);
    long last = st.st_size / bs + 1; long blk = 0; char *pkt = malloc(bs + 4); char ack[516];
    if (ol) send(s, opt, ol, 0); else blk = 0;
    long want = ol ? 0 : -1;
    if (!ol) { blk = 1; pkt[0] = 0; pkt[1] = 3; pkt[2] = 0; pkt[3] = 1; long len = st.st_size < bs ? st.st_size : bs; memcpy(pkt + 4, data, len); send(s, pkt, len + 4, 0); want = 1; }
    for (;;) {
      struct pollfd pf = { s, POLLIN, 0 }; if (poll(&pf, 1, 1000) <= 0) break;
      int r = recv(s, ack, sizeof ack, 0); if (r < 4) continue;
      int ab = (ack[2] & 0xff) << 8 | (ack[3] & 0xff); if (ab != (want & 0xffff)) continue;
      if (want == last) break;
      blk = want + 1; long off = (blk - 1) * bs; long len = st.st_size - off; if (len > bs) len = bs; if (len < 0) len = 0;
      pkt[0] = 0; pkt[1] = 3; pkt[2] = (blk >> 8) & 0xff; pkt[3] = blk & 0xff; memcpy(pkt + 4, data + off, len);
      send(s, pkt, len + 4, 0); want = blk;
    }
    close(s); free(pkt);
  }
}
