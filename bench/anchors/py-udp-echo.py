# The Python asyncio UDP echo (a DatagramProtocol), the UDP twin of `pyecho` in anchors/start.sh.
# usage: python3 bench/anchors/py-udp-echo.py PORT
import asyncio, sys

class Echo(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.transport = transport
    def datagram_received(self, data, addr):
        self.transport.sendto(data, addr)

async def main():
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", int(sys.argv[1])))
    await asyncio.Future()

asyncio.run(main())
