# selectors模块's server (seed 002 §7), verbatim but for the address, which comes from argv:
# selectors_server_002.py HOST PORT (the seed binds localhost:1234), and the line breaks and
# indentation the seed's text lost.
import sys
import selectors
import socket
sel = selectors.DefaultSelector()
def accept(sock, mask):
    conn, addr = sock.accept()
    print('accepted', conn, 'from', addr)
    conn.setblocking(False) # 设置为非阻塞
    sel.register(conn, selectors.EVENT_READ, read)
def read(conn, mask):
    try:
        data = conn.recv(1000)
        if not data: # windows下断开客户端会报错,Linux下会发送空字符
            raise Exception
        print(data.decode('utf8'))
        conn.send(data)
    except Exception as e:
        print('closing', conn)
        sel.unregister(conn)
        conn.close()
sock = socket.socket()
sock.bind((sys.argv[1], int(sys.argv[2])))
sock.listen(100)
sock.setblocking(False)
sel.register(sock, selectors.EVENT_READ, accept)
while True:
    events = sel.select()
    for key, mask in events:
        callback = key.data # 监听对象绑定的函数,第一次是sock,第二次是conn
        callback(key.fileobj, mask) # fileobj表示监听对象
