#coding=utf-8
# Seed 004 (协程, gevent 并发下载器), ported to Python 3. The seed's program is Python 2 and needs
# gevent for Python 2, which only PyPI has (not reachable here); Debian ships gevent for Python 3
# (python3-gevent), so this port runs with Debian's /usr/bin/python3. What changed, and nothing
# else: `import urllib2` / `urllib2.urlopen` became `urllib.request` / `urllib.request.urlopen`
# (Python 3's name for the same module); the stray `;` after the first import is kept; the three
# URLs (baidu.com, itcast.cn, itheima.com) come from argv, so that they point at a wharf web
# server on loopback.

from gevent import monkey; 
import gevent
import sys
import urllib.request

#有IO才做时需要这一句
monkey.patch_all()

def myDownLoad(url):
    print('GET: %s' % url)
    resp = urllib.request.urlopen(url)
    data = resp.read()
    print('%d bytes received from %s.' % (len(data), url))

gevent.joinall([
        gevent.spawn(myDownLoad, sys.argv[1]),
        gevent.spawn(myDownLoad, sys.argv[2]),
        gevent.spawn(myDownLoad, sys.argv[3]),
])
