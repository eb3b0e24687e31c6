# coding: utf-8
# Seed 003 §一 (服务器端编程): the server that greets and answers 收到！ in a thread per client,
# Python 2. The page builds it in fragments (bind, listen, then "处理多个连接" replaces the accept
# loop); here they are put together in the page's order, verbatim but for HOST and PORT, which
# come from argv (the page has "" and 8888), and the coding line Python 2 needs for the 收到！
# literal (the page's fragments start below it). The page tests it with telnet.
import socket
import sys
from thread import *

HOST = sys.argv[1]
PORT = int(sys.argv[2])

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
print 'Socket Created.'

try:
    s.bind((HOST, PORT))
except socket.error , msg:
    print str(msg[0])
    sys.exit()

print 'Socket bind complete.'

s.listen(10)    #限制10个连接，意味着第11个连接会被拒绝
print 'Socket now listening'

def clientthread(conn):
    conn.send('Welcome to the server.Tpye something and hit enter\n')
    while True:
        data = conn.recv(1024)
        reply = '收到！' + data
        if not data:
            break
        conn.sendall(reply)
    conn.close()
   
while 1:
    conn, addr = s.accept()
    print 'Connected with ' + addr[0] + ':' + str(addr[1])
    start_new_thread(clientthread,(conn,))

s.close()
