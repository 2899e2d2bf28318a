#!/usr/bin/env python3
"""A small HTTP proxy in front of a test registry that misbehaves on purpose
(tests/interop/test-registry.sh).

    regproxy.py PORTFILE UPSTREAM MODE

Listens on a free port of 127.0.0.1 (written to PORTFILE) and forwards GET
and HEAD to UPSTREAM ("http://127.0.0.1:PORT"). MODE:
  corrupt  layer-sized blobs (over 4 KiB) get one byte changed
  slow     blob bodies trickle (16 KiB every 0.1 s)
  429      the first three requests are answered 429 with Retry-After: 1
  429date  the same with Retry-After as an HTTP date 2 s ahead
  cut      the first big blob answer stops half-way and the connection drops
  cutnorange  the same, and Range is ignored (whole blobs are sent again)
  bearer   a token server: /token gives a token for basic carol:tok, and
           every other request needs it (401 with a Bearer challenge)
  blobbearer   the same, for blobs only
  redirectloop  manifests redirect to themselves
  bigmanifest  manifests are 5 MiB of JSON whitespace
  pages    tags lists are served in pages of two (n= and last= as the
           distribution spec has them), each with a Link to the next
  pageloop  tags lists answer with a Link to themselves
  slowput  uploads (PUT, PATCH) wait 10 s before they are forwarded
  pass     nothing changes

Every request is logged ("METHOD PATH[ range=RANGE]" lines) to PORTFILE.log,
and the end of every GET answer ("END GET PATH").
"""
import base64
import email.utils
import http.server
import json
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

portfile, upstream, mode = sys.argv[1:4]
lock = threading.Lock()
state = {"n429": 0, "cut": False}


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


opener = urllib.request.build_opener(NoRedirect)


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def forward(self, head, method=None):
        with lock, open(portfile + ".log", "a") as log:
            rng = self.headers.get("Range")
            log.write("%s %s%s\n" % (self.command, self.path, " range=" + rng if rng else ""))
        if mode in ("429", "429date"):
            with lock:
                state["n429"] += 1
                busy = state["n429"] <= 3
            if busy:
                self.send_response(429)
                self.send_header("Retry-After", "1" if mode == "429" else
                                 email.utils.formatdate(time.time() + 2, usegmt=True))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        if mode == "slowput" and self.command in ("PUT", "PATCH"):
            time.sleep(10)
        data = None
        if self.headers.get("Content-Length"):
            data = self.rfile.read(int(self.headers["Content-Length"]))
        if mode in ("bearer", "blobbearer") and self.path.startswith("/token"):
            ok = self.headers.get("Authorization") == "Basic " + base64.b64encode(b"carol:tok").decode()
            body = b'{"token":"T0KEN"}' if ok else b'{"errors":[{"code":"UNAUTHORIZED","message":"bad"}]}'
            self.send_response(200 if ok else 401)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        needs = mode == "bearer" or (mode == "blobbearer" and "/blobs/" in self.path)
        if needs and self.headers.get("Authorization") != "Bearer T0KEN":
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Bearer realm="http://127.0.0.1:%d/token",service="regproxy"'
                             % srv.server_address[1])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if mode == "redirectloop" and "/manifests/" in self.path:
            self.send_response(307)
            self.send_header("Location", self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if mode == "bigmanifest" and "/manifests/" in self.path:
            body = b"{" + b" " * (5 << 20) + b"}"
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)
            return
        path = self.path
        if mode == "pages" and "/tags/list" in path:
            base, _, query = path.partition("?")
            q = urllib.parse.parse_qs(query)
            n = int(q.get("n", ["2"])[0])
            hdrs = {h: self.headers[h] for h in ("Authorization",) if self.headers.get(h)}
            full = json.loads(opener.open(urllib.request.Request(upstream + base, headers=hdrs)).read())
            tags = full.get("tags") or []
            start = tags.index(q["last"][0]) + 1 if "last" in q else 0
            body = json.dumps({"name": full["name"], "tags": tags[start:start + n]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if start + n < len(tags):
                self.send_header("Link", '<%s?n=%d&last=%s>; rel="next"' % (base, n, tags[start + n - 1]))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if mode == "pageloop" and "/tags/list" in path:
            body = b'{"name":"x","tags":["a"]}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Link", '<%s>; rel="next"' % path)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        req = urllib.request.Request(upstream + path, data=data,
                                     method=method or ("HEAD" if head else "GET"))
        for h in ("Accept", "Content-Type", "Content-Range") + (() if mode == "cutnorange" else ("Range",)) + (() if mode in ("bearer", "blobbearer") else ("Authorization",)):
            if self.headers.get(h):
                req.add_header(h, self.headers[h])
        try:
            resp = opener.open(req)
            status, headers, body = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as e:
            status, headers, body = e.code, e.headers, e.read()
        blob = "/blobs/" in self.path and status in (200, 206) and len(body) > 4096
        if blob and mode == "corrupt":
            b = bytearray(body)
            b[len(b) // 2] ^= 0x01
            body = bytes(b)
        self.send_response(status)
        for k, v in headers.items():
            if k.lower() == "location":
                # Uploads go on through the proxy too.
                v = v.replace(upstream, "http://127.0.0.1:%d" % srv.server_address[1])
            if k.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if head:
            return
        if blob and mode in ("cut", "cutnorange"):
            with lock:
                first = not state["cut"]
                state["cut"] = True
            if first:
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
        if blob and mode == "slow":
            for i in range(0, len(body), 16384):
                if i:
                    time.sleep(0.1)
                self.wfile.write(body[i : i + 16384])
                self.wfile.flush()
            return
        self.wfile.write(body)

    def do_GET(self):
        try:
            self.forward(False)
        finally:
            with lock, open(portfile + ".log", "a") as log:
                log.write("END GET %s\n" % self.path)

    def do_HEAD(self):
        self.forward(True)

    def do_POST(self):
        self.forward(False, "POST")

    def do_PUT(self):
        self.forward(False, "PUT")

    def do_PATCH(self):
        self.forward(False, "PATCH")


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os

os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
