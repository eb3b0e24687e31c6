# seed 001 "socket文件传输": send_file, verbatim but for two lines marked "wharf: fixed". As printed,
# the seed's function cannot run: its socket is never connected (no address anywhere) and it sends
# the file's name as "filesize", which its own recv_file cannot compare with a byte count. The
# imports and the last lines (which call it with the address, action and file from argv) are added.
import json
import os
import socket
import struct
import sys


def send_file(action, filename):
    sock = socket.socket()
    sock.connect((sys.argv[1], int(sys.argv[2])))  # wharf: fixed (the seed never connects)
    filesize = os.path.getsize(filename)
    file_info = {
        "action": action,
        "filename": filename,
        "filesize": filesize  # wharf: fixed (the seed has "filesize": filename)
    }
    file_info_json = json.dumps(file_info).encode("utf-8")
    json_len = struct.pack("i", len(file_info_json))
    sock.send(json_len) # file_info_json的打包长度(4字节)
    sock.send(file_info_json)
    with open(filename, "rb") as f:
        for line in f:
            sock.send(line)


if __name__ == '__main__':
    send_file(sys.argv[3], sys.argv[4])
