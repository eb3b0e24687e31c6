# ThreadingTCPServer基础's server (seed 002 §五 1), verbatim but for the address, which comes from
# argv: socketserver_server_002.py HOST PORT [forking] (the seed binds 127.0.0.1:8009), and the
# line breaks and indentation the seed's text lost. With "forking" it is §五 5's ForkingTCPServer,
# the one-word change the seed shows.
import sys
import socketserver
#服务端
class MyServer(socketserver.BaseRequestHandler):
    def handle(self):
        conn = self.request
        conn.send(bytes('欢迎致电... ',encoding='utf-8'))
        while True:
            try:
                recv_data = conn.recv(1024)
                print("[%s] says %s."%(self.client_address,recv_data.decode()))
                conn.send(recv_data)
            except Exception as e:
                print(e)
                break
if __name__ == '__main__':
    if sys.argv[3:] == ['forking']:
        server = socketserver.ForkingTCPServer((sys.argv[1], int(sys.argv[2])), MyServer)
    else:
        server = socketserver.ThreadingTCPServer((sys.argv[1], int(sys.argv[2])), MyServer)
    #无限循环接收新链接
    server.serve_forever()
