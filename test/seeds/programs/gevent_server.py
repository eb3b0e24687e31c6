# Seed 004 (协程, gevent 版 - TCP 服务器), run with Python 3. The seed's program is Python 2 and
# needs gevent for Python 2, which only PyPI has (not reachable here); Debian ships gevent for
# Python 3 (python3-gevent), so this copy runs with Debian's /usr/bin/python3. Its code is
# already valid Python 3 (print is called as a function), so nothing else changed but the
# address, which comes from argv: gevent_server.py HOST PORT (the seed binds every address,
# port 7788). Python 3 prints the bytes it received as b'...'.
import sys
import time
import gevent

from gevent import socket,monkey
monkey.patch_all()

def handle_request(conn):
    while True:
        data = conn.recv(1024)
        if not data:
            conn.close()
            break
        print("recv:", data)
        conn.send(data)


def server(host, port):
    s = socket.socket()
    s.bind((host, port))
    s.listen(5)
    while True:
        cli, addr = s.accept()
        gevent.spawn(handle_request, cli)

if __name__ == '__main__':
    server(sys.argv[1], int(sys.argv[2]))
