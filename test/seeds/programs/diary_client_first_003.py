# encoding:utf-8
# __author__:zhulijian
# The seed's first diary client (seed 003 §四, "从最简单的框架开始..."), Python 2, verbatim but for
# the server port, which comes from argv too (the seed hard-codes 8888): it sends one typed line
# and waits for nothing.

from sys import argv
import socket

script, IP, PORT = argv
print IP

def write():
    line = raw_input('输入>')
    return line

def createudp():
    port = int(PORT)
    host = IP
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("",0))
    inp = write()
    s.sendto(inp, (host,port))

def main():
    createudp()

if __name__ == "__main__":
    main()
