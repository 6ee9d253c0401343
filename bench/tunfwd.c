/* The least a userspace overlay does per packet, as a floor for its latency: one process
 * per node, one thread, a TUN device and a UDP socket, each packet read from one and written
 * to the other as it is (no crypto, no routing, no batching). rtt-spacing.sh runs one in each
 * of its two namespaces and pings across them beside the overlay under test.
 *
 * Usage: tunfwd TUN_NAME LOCAL_IPV4 PEER_IPV4 PORT
 * The caller gives the TUN device its address and brings it up once it exists.
 * Build: cc -O2 -o tunfwd tunfwd.c (Linux). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char *what) {
  perror(what);
  exit(1);
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s TUN_NAME LOCAL_IPV4 PEER_IPV4 PORT\n", argv[0]);
    return 2;
  }
  int tun = open("/dev/net/tun", O_RDWR);
  if (tun < 0) die("/dev/net/tun");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  strncpy(ifr.ifr_name, argv[1], IFNAMSIZ - 1);
  if (ioctl(tun, TUNSETIFF, &ifr) < 0) die("TUNSETIFF");

  int udp = socket(AF_INET, SOCK_DGRAM, 0);
  if (udp < 0) die("socket");
  struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[4]))};
  struct sockaddr_in peer = local;
  if (inet_pton(AF_INET, argv[2], &local.sin_addr) != 1) die("LOCAL_IPV4");
  if (inet_pton(AF_INET, argv[3], &peer.sin_addr) != 1) die("PEER_IPV4");
  if (bind(udp, (struct sockaddr *)&local, sizeof local) < 0) die("bind");
  if (connect(udp, (struct sockaddr *)&peer, sizeof peer) < 0) die("connect");

  static char buf[65536];
  struct pollfd fds[2] = {{.fd = tun, .events = POLLIN}, {.fd = udp, .events = POLLIN}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) die("poll");
    if (fds[0].revents & POLLIN) {
      ssize_t n = read(tun, buf, sizeof buf);
      if (n > 0) send(udp, buf, n, 0);
    }
    if (fds[1].revents & POLLIN) {
      ssize_t n = recv(udp, buf, sizeof buf, 0);
      if (n > 0) write(tun, buf, n);
    }
  }
}
