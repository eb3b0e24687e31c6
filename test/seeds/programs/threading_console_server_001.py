# 并发示例's server (seed 001, socketserver 并发示例), verbatim but for the address, which comes
# from argv: threading_console_server_001.py HOST PORT (the seed binds 127.0.0.1:8888). As
# printed, handle() closes the connection after its first answer (self.request.close() inside
# the loop), so each client gets one typed answer.
import sys
import socketserver

class Myserver(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            client_data=self.request.recv(1024)
            if len(client_data)==0:
                print("客户端断开连接，等待新的用户连接....")
                break
            print ("接受数据 >>>",str(client_data,"utf8"))
            response=input("响应数据 >>>")
            self.request.sendall(bytes(response,"utf8"))
            self.request.close()
server = socketserver.ThreadingTCPServer((sys.argv[1], int(sys.argv[2])), Myserver)
server.serve_forever()
