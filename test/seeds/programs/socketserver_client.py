# 客户端 (seed 002, ThreadingTCPServer基础: the socketserver server's client), verbatim but for the
# server address, which comes from argv, and the line breaks and indentation the seed's text lost.
import sys
import socket
#客户端
ip_port = (sys.argv[1], int(sys.argv[2]))
s = socket.socket()
s.connect(ip_port)
#接收欢迎信息
welcome_msg = s.recv(1024)
print(welcome_msg.decode())
while True:
    send_data = input('>>:').strip()
    if len(send_data) == 0:continue
    #如果输入exit,客户端退出,不发送数据
    if send_data == 'exit':
        break
    s.send(bytes(send_data, encoding='utf-8'))
    recv_data = s.recv(1024)
    print(recv_data.decode())
