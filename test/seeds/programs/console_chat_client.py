# 单线程示例's client (seed 001, socketserver 单线程示例), verbatim but for the server address,
# which comes from argv.
import sys
import socket

ip_port = (sys.argv[1], int(sys.argv[2]))
sock = socket.socket()
sock.connect(ip_port)
print ("客户端启动:")

while True:
    inp = input('发送数据 >>>')
    if inp == 'exit':
        break
    sock.sendall(bytes(inp,"utf8"))
    server_response=sock.recv(1024)
    print ("服务端响应数据 >>>",str(server_response,"utf8"))
sock.close()
