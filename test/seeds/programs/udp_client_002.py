# 基于UDP的套接字's client (seed 002 §5), verbatim but for the server address, which comes from
# argv (the seed sends to 127.0.0.1:9999), and the line breaks the page lost.
import sys
import socket
ip_port = (sys.argv[1], int(sys.argv[2]))
sk = socket.socket(socket.AF_INET,socket.SOCK_DGRAM,0)
while True:
    inp = input('数据:').strip()
    if inp == 'exit':
        break
    sk.sendto(bytes(inp, encoding='utf-8'),ip_port)
    data = sk.recvfrom(1024)
    print(data)
sk.close()
