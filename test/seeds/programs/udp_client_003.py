# Seed 003, part 3 (the simplest UDP server/client pair): client.py, Python 2, verbatim but for
# the server address, which comes from argv (the seed sends to localhost:8888). It sends one
# datagram and waits for nothing. (This header is ASCII: the program has no coding line.)
import sys
import socket
port = int(sys.argv[2])
host = sys.argv[1]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("", 0))
s.sendto("Holy Guido! It's working.", (host, port))
