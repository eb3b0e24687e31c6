# encoding:utf-8
# __author__:zhulijian
# A Python 3 port of the seed's diary client (seed 003): the same flow, line for line. Python 3
# sends bytes, so the typed line is encoded as UTF-8 and the answer decoded; the server address
# comes from argv (the seed hard-codes port 8888).

from sys import argv
import socket

script, IP, PORT = argv
print(IP)

def write():
    line = input('输入>')
    return line

def createudp():
    port = int(PORT)
    host = IP
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("",0))
    s.sendto('-r'.encode('utf-8'), (host, port))    #立即从服务器获取消息
    print(s.recv(1024).decode('utf-8', 'replace'))
    while 1:    #连续发送文字
        inp = write()
        s.sendto(inp.encode('utf-8'), (host, port))
        print(s.recv(1024).decode('utf-8', 'replace'))

def main():
    createudp()

if __name__ == "__main__":
    main()
