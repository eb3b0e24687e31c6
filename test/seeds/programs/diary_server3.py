# encoding:utf-8
# The seed's diary server (seed 003, "继续增加新的功能") ported to Python 3 for the benchmark:
# the same logic line for line (daily.log in the current folder, the first datagram only creates
# the file, -r / -c case-insensitive, every answer printed). Python 3 datagrams are bytes, so they
# are decoded as UTF-8 (surrogateescape keeps any byte, as Python 2's str did) and the answer is
# encoded back; `reload(sys); sys.setdefaultencoding('utf-8')` has no Python 3 equivalent and
# is not needed. The port and the listen address come from argv (the seed
# hard-codes 8888 and listens on every interface).

import socket
import sys
import os
import time

def wrc(command, data): #文件处理
    if os.path.isfile('daily.log') == False:    #检查daily.log，没有就创建
        f = open('daily.log','w')
        f.close()
        return '---创建daily.log---'

    elif command.lower() == '-r':   #输入-r命令后读取日记
        f = open('daily.log','r', encoding='utf-8', errors='surrogateescape')
        reply =  '-'*10+'读取日记'+'-'*10+'\n'+f.read()+'-'*28
        return reply

    elif command.lower() == '-c':   #输入-c命令后初始化日记
        f = open('daily.log','w')
        return '---初始化完毕---!'

    else:                           #没有命令则执行写入文件
        f = open('daily.log','a', encoding='utf-8', errors='surrogateescape')
        f.write(data + '\n')
        f.close()
        return data

def createserver():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8888
    host = sys.argv[2] if len(sys.argv) > 2 else ""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    print('服务器启动中...')
    try:
        s.bind((host,port))    #创建服务器，开始监听端口
    except socket.error as msg:
        print(str(msg))
        sys.exit()
    print('端口开放：',port)

    while 1:
        data, addr = s.recvfrom(1024)   #接收内容并打印到屏幕上
        data = data.decode('utf-8', 'surrogateescape')
        localtime = '['+time.asctime(time.localtime(time.time()))+']'
        data2 = localtime + ' ' + data
        re = wrc(data, data2)   #得到文件处理函数返回的内容
        s.sendto(re.encode('utf-8', 'surrogateescape'), addr)  #将返回的内容推送回客户端
        print(re)    #打印到服务端的屏幕上，用以检查

    s.close()

def main():
    createserver()

if __name__ == "__main__":
    main()
