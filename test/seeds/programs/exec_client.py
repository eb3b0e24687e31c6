"""
客户端:发--收 (seed 002 §3, the remote command execution client; verbatim but for the server
address, which comes from argv, and the line breaks the page lost)
"""
import sys
import socket
'''客户端:发--收'''
ip_port = (sys.argv[1], int(sys.argv[2]))
#封装一个对象
s = socket.socket()
#链接服务端,如果已经有一个链接,就挂起
s.connect(ip_port)
while True:
    # 发送数据
    send_data = input('>>:').strip()
    #如果发送字符串长度为0,就重新输入
    if len(send_data) == 0:continue
    #如果输入exit,客户端退出,不发送数据
    if send_data == 'exit': break
    s.send(bytes(send_data,encoding='utf-8'))
    #解决粘包问题,先接收带有数据长度的字节
    ready_tag = s.recv(1024)
    ready_tag = str(ready_tag,encoding='utf-8')
    if ready_tag.startswith('Ready'):
        #获取待接收数据长度
        data_size = int(ready_tag.split('|')[-1])
        #发送信号
        start_tag = 'Start'
        s.send(bytes(start_tag, encoding='utf-8'))
        # 基于数据长度循环接收数据
        recv_msg = b'' #空字节
        recv_size = 0
        while recv_size < data_size:
            recv_data = s.recv(1024)
            recv_msg += recv_data
            recv_size += len(recv_data)
            print('data size %s ,recv size %s '%(data_size,recv_size))
        print(str(recv_msg,encoding='utf-8'))
#关闭
s.close()
