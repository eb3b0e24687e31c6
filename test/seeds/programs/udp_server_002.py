# 基于UDP的套接字's server (seed 002 §5), verbatim but for the address, which comes from argv:
# udp_server_002.py HOST PORT (the seed binds 127.0.0.1:9999), and the line breaks the page lost.
import sys
import socket
ip_port = (sys.argv[1], int(sys.argv[2]))
sk = socket.socket(socket.AF_INET,socket.SOCK_DGRAM,0)
sk.bind(ip_port)
while True:
    data,(host,port) = sk.recvfrom(1024)
    print(data,host,port)
    sk.sendto(bytes('ok', encoding='utf-8'), (host,port))
