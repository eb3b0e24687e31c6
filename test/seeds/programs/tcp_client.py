"""
tcp客户端基础实例 (seed 000 §2, verbatim but for the server address, which comes from argv)
重点代码
"""
import sys
from socket import *

# 创建tcp套接字 默认就是tcp套接字
tcp_socket = socket()

# 发起链接
tcp_socket.connect((sys.argv[1], int(sys.argv[2])))

# 收发消息
while True:
    msg = input(">>")
    if not msg:
        break
    tcp_socket.send(msg.encode())

    data = tcp_socket.recv(1024)
    print("From server:",data.decode())

# 关闭套接字
tcp_socket.close()
