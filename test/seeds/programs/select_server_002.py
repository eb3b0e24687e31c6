# IO多路复用服务端 (seed 002, §3 伪并发: the select server), verbatim but for the address, which
# comes from argv: select_server_002.py HOST PORT (the seed binds 127.0.0.1:9999), and the line
# breaks and indentation the seed's text lost.
import sys
import socket
import select
'''IO多路复用服务端'''
ip_port = (sys.argv[1], int(sys.argv[2]))
s = socket.socket()
s.bind(ip_port)
s.listen(5)
inputs = [s,]
outputs = []
msg = {} #{"charlie":[消息1,消息2,]}
while True:
    # 监听sk(服务端)对象,如果sk对象发生变化,表示有客户端来连接了,此时rlist值为【s】
    # 监听conn对象,如果conn对象发生变化,表示客户端有消息进来,此时rlist值为【客户端】
    rlist,wlist,elist = select.select(inputs,outputs,[],1)#1表示监听时限1s,然后往下执行,再回来循环
    print(len(inputs),len(rlist),len(wlist))
    for r in rlist:
        if r == s:
            # 说明s发生变化,此时列表中只有s,r=s
            conn,addr = r.accept()
            #conn也是一个socket对象,每连接一个客户端,就新建一个对应的conn
            inputs.append(conn)
            conn.sendall(bytes('hello...',encoding='utf-8'))
            #客户链接之后,为客户创建一个存放消息的列表
            msg[conn] = []
        else:
            # 说明conn变化,有消息过来,此时r=conn
            try:
                recv_data = r.recv(1024)
                print('收到')
                #判断接收到的消息是否为空
                if not recv_data:
                    #如果为空,主动抛出异常
                    raise Exception('断开连接')
                else:
                    #所有发过消息的客户端对象加入列表
                    outputs.append(r)
                    msg[r].append(recv_data)
            except Exception as ex:
                #如果客户端关闭,清除接收到的对象和消息
                inputs.remove(r)
                del msg[r]
    #收发分离,发送部分
    for w in wlist:
        last_msg = msg[w].pop()#上一次接收的消息
        resp = bytes('response:',encoding='utf-8') + last_msg
        w.sendall(resp)
        #发送完消息,就移除该对象
        outputs.remove(w)
