# coding=utf-8
# Seed 004's broadcast client, ported to Python 3 line for line (bytes on the wire, print()).

import socket, sys

dest = ('<broadcast>', 7788)

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)

s.sendto(b"Hi", dest)

print("等待对方回复（按ctrl+c退出）")

while True:
    (buf, address) = s.recvfrom(2048)
    print("Received from %s: %s" % (address, buf.decode('utf-8')))
