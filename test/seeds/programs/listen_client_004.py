#coding=utf-8
# Seed 004 (Listen 的队列长度, 客户端), Python 2, verbatim but for the server address, which comes
# from argv (the seed connects to 192.168.1.102:7788). It opens as many connections as asked, one
# after another (each new one replaces the last in `s`, and Python 2 closes the one it drops).
import sys
from socket import *

connNum = raw_input("请输入要链接服务器的次数:")
for i in range(int(connNum)):
    s = socket(AF_INET, SOCK_STREAM)
    s.connect((sys.argv[1], int(sys.argv[2])))
    print(i)
