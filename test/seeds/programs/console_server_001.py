# 单线程示例's server (seed 001, socketserver 单线程示例), verbatim but for the address, which
# comes from argv: console_server_001.py HOST PORT (the seed binds 127.0.0.1:8888). The person at
# the server types each answer.
import sys
from socket import *

ip_port=(sys.argv[1], int(sys.argv[2]))
tcp_socket_server=socket()
tcp_socket_server.bind(ip_port)
tcp_socket_server.listen(5)

while True:
    conn, addr = tcp_socket_server.accept()
    print('客户端', addr)
    while True:
        client_data=conn.recv(1024)
        if len(client_data)==0:
            print("客户端断开连接，等待新的用户连接....")
            break
        print ("接受数据 >>>",str(client_data,"utf8"))
        response=input("响应数据 >>>")
        conn.sendall(bytes(response,"utf8"))
    conn.close()
