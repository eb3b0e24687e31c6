# coding: utf-8
# Seed 003 §一 (如何进行网络开发?): the raw-socket HTTP client, Python 2. The page prints it in
# fragments; here they are put together in the page's order. Changes, each marked "wharf:": the
# host and port come from argv (the page asks www.iomooc.com:80); the connect(), which the page
# shows only in a screenshot, is written out; an optional third argument replaces the request
# line's HTTP/1.1 (to show what the same request gets as HTTP/1.0).
import socket
import sys

try:
    s = socket.socket(socket.AF_INET,socket.SOCK_STREAM)
except socket.error, msg:
    print 'Faild to create socket'
    sys.exit();
print 'socket Created'

host = sys.argv[1]  # wharf: from argv
port = int(sys.argv[2])  # wharf: from argv
try:
    ip = socket.gethostbyname(host)
except socket.gaierror:
    print 'Hostname could not be resolved.'
    sys.exit()

print 'Connecting ' + host + ':' + ip 
s.connect((ip, port))  # wharf: written out (the page shows it only in a screenshot)

message = 'GET / HTTP/1.1\r\n\r\n' # 用来获取网站首页的内容
if len(sys.argv) > 3: message = message.replace('HTTP/1.1', sys.argv[3])  # wharf: optional version

try:
    s.sendall(message)
except socket.error:
    print 'Send Failed'
    sys.exit()

print 'Message Send Successfully.'

reply = s.recv(4096)

print reply

s.close()
