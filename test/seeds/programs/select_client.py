# IO多路复用客户端 (seed 002, §3 伪并发: the select server's client), verbatim but for the server
# address, which comes from argv, and the line breaks and indentation the seed's text lost.
import sys
import socket
'''IO多路复用客户端'''
ip_port = (sys.argv[1], int(sys.argv[2]))
s = socket.socket()
s.connect(ip_port)
recv_data = s.recv(1024)
print(str(recv_data,encoding='utf-8'))
while True:
    inp = input('>>>:')
    if len(inp) == 0:
        continue
    else:
        s.sendall(bytes(inp,encoding='utf-8'))
        recv_data = s.recv(1024)
        print(recv_data.decode())
