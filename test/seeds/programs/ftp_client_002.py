# The FTP client of seed 002 (its "作业练习: FTP服务端和客户端" exercise), verbatim. The seed's text
# lost its line breaks, so the indentation is restored; two changes, marked "wharf:": the server
# address comes from argv (the seed reads it from its conf/settings.py: 127.0.0.1:8000), and the
# last lines start the client (the seed's text ends before them).
import os
import sys
import json
import socket
BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.append(BASE_DIR)
LOGIN = {
    "is_login":False}
CURRENT_USER = {}
class MyFtpClient:
    '''FTP客户端'''
    address_family = socket.AF_INET
    socket_type = socket.SOCK_STREAM
    max_packet_size = 8192
    coding = 'utf-8'
    def __init__(self,server_address,connect=True):
        '''初始化时,就执行连接'''
        self.server_address = server_address
        self.socket = socket.socket(self.address_family,self.socket_type)
        if connect:
            try:
                self.client_connect()
            except:
                self.client_close()
                raise
    def client_connect(self):
        '''连接服务端'''
        self.socket.connect(self.server_address)
    def client_close(self):
        '''关闭客户端'''
        self.socket.close()
    def put(self,args):
        '''
        客户端上传数据 # put f:\blank.mp3
        :param args: [命令,文件名]
        :return: 无
        '''
        cmd = args[0]
        filename = args[1]
        if not os.path.isfile(filename):
            print("%s is not exists..."%filename)
        else:
            filesize = os.path.getsize(filename)
            head_dic = {
                "cmd":cmd,"filename":os.path.basename(filename),
                "filesize":filesize,"file_owner":CURRENT_USER["username"]}
            print(head_dic)
            head_json = json.dumps(head_dic)
            self.socket.sendall(bytes(head_json,encoding=self.coding))
            start_tag = self.socket.recv(self.max_packet_size).decode()
            if start_tag.startswith('Start'):
                send_size = 0
            else:
                send_size = int(start_tag)
            with open(filename,'rb') as f:
                f.seek(send_size)
                while send_size < filesize:
                    data = f.read(1024)
                    self.socket.sendall(data)
                    send_size += len(data)
                    self.view_bar(send_size, filesize)
            print("\n上传成功,文件大小:%s 已发送大小:%s"%(filesize,send_size))
    def view_bar(self,num,total):
        '''
        上传进度条
        :param num: 每次上传数量
        :param total:上传数据总量
        :return:None
        '''
        rate = num/total
        rate_num = int(rate * 100)
        r = "\r%s%.0f%%"%(">" * rate_num, rate_num)
        sys.stdout.write(r)
    def register(self):
        '''用户注册'''
        while True:
            username = input('请输入用户名:').strip()
            password = input('请输入用密码:').strip()
            if not username or not password:
                continue
            user_info = {
                "cmd": "register", "username": username, "password": password}
            send_data = json.dumps(user_info)
            self.socket.sendall(bytes(send_data,self.coding)) # 发送用户命令字典
            recv_data = self.socket.recv(self.max_packet_size).decode(self.coding)
            if recv_data == '注册成功':
                print(recv_data)
                return True
    def login(self):
        '''用户登陆'''
        while True:
            username = input('请输入用户名(q:退出):').strip()
            password = input('请输入用密码(q:退出):').strip()
            if not username or not password:
                continue
            user_info = {
                "cmd": "check_user", "username": username, "password": password}
            send_data = json.dumps(user_info)
            self.socket.sendall(bytes(send_data,self.coding)) # 发送用户命令字典
            recv_data = self.socket.recv(self.max_packet_size).decode(self.coding)
            print(recv_data)
            if recv_data == '密码错误':
                print(recv_data)
                continue
            elif recv_data == '用户名不存在':
                print(recv_data)
                break
            elif recv_data == '登陆成功':
                global CURRENT_USER
                CURRENT_USER = user_info
                return True
            elif recv_data == 'q':break
    def check_user(self):
        '''验证登陆'''
        while True:
            inp = input("1、登陆 2、注册 3、退出 >>:").strip()
            if not inp: continue
            if inp == '1':
                ret = self.login()
                if ret:return True
                else:continue
            if inp == '2':
                ret = self.register()
                if ret:print('请登录')
            if inp == '3':
                break
    def response(self):
        '''接收信息并转码'''
        data = self.socket.recv(self.max_packet_size).decode(self.coding)
        data = json.loads(data)
        return data
    def main(self):
        '''客户端主程序'''
        welcome_msg = self.socket.recv(self.max_packet_size)
        print(welcome_msg.decode())
        ret = self.check_user()
        if ret:
            while True:
                inp = input("q:quit >>:").strip()
                if not inp:continue
                if inp == 'q':break
                cmd_list = inp.split()
                cmd = cmd_list[0]
                if hasattr(self, cmd):
                    func = getattr(self, cmd)
                    func(cmd_list)

# wharf: start the client on the address given as argv (the seed's conf/settings.py: IP, PORT).
if __name__ == '__main__':
    MyFtpClient((sys.argv[1], int(sys.argv[2]))).main()
