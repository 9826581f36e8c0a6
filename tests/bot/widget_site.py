"""A website of its own — another origin than the gateway's — whose pages embed the chat widget with one tag,
as a health commission's site would. Its port is known before the gateway starts, so the gateway can be told
to allow it (HOTLINE_WIDGET_ORIGINS)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: CSS that tries to break whatever it can reach: every element reset, every div hidden, every button red and
#: huge, the widget's own tag and class names targeted. The widget lives in a shadow root and must not care.
HOSTILE_CSS = """
* { all: unset !important; }
html { font-size: 40px !important; }
div { display: none !important; }
button, input { background: red !important; color: yellow !important; font-size: 40px !important; }
hotline-widget, hotline-widget * { display: none !important; visibility: hidden !important; opacity: 0 !important; }
.launcher, .panel, .msg, .card, .row { display: none !important; }
section, form, header { display: none !important; }
"""

#: A page as a site might have it: its own button and boxes named like the widget's, styled its own way.
PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>某市卫生健康委员会</title>
<style>
  body {{ margin: 0; font-family: serif; background: #fafaf5; color: #222; }}
  .top {{ background: #8b0000; color: #fff; padding: 18px 24px; font-size: 22px; }}
  main {{ max-width: 760px; margin: 24px auto; padding: 0 16px; line-height: 1.8; }}
  .launcher {{ position: static; background: rgb(0, 128, 0); padding: 4px; }}
  .msg {{ color: rgb(128, 0, 128); }}
  {extra_css}
</style></head>
<body>
<div class="top">某市卫生健康委员会</div>
<main>
  <a id="first-link" href="#news">新闻动态</a>
  <h1>政务服务</h1>
  <p class="msg" id="own-text">本站提供卫生健康政策、办事指南和政府信息公开。</p>
  <button class="launcher" id="own-button" type="button">本站按钮</button>
  <p id="news">（示例页面）</p>
</main>
<script src="{gateway}/widget.js" async></script>
</body></html>
"""


class Site:
    """`pages`: path → extra CSS of that page. Serve with `gateway` set to the gateway's base URL."""

    def __init__(self, pages: dict[str, str]) -> None:
        self.gateway = ""
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path not in pages:
                    self.send_error(404)
                    return
                body = PAGE.format(gateway=site.gateway, extra_css=pages[path]).encode()
                self.send_response(200)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
