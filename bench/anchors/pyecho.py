# Verbatim copy of `pyecho` in /work/shared/anchors/start.sh, used only when start.sh is not there.
# usage: python3 bench/anchors/pyecho.py PORT
import asyncio, sys
async def echo(r, w):
    while data := await r.read(65536):
        w.write(data); await w.drain()
    w.close()
async def main():
    s = await asyncio.start_server(echo, "127.0.0.1", int(sys.argv[1]))
    async with s: await s.serve_forever()
asyncio.run(main())
