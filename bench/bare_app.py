"""The baseline for bench/callback_bench.py: a bare wechatpy safe-mode callback, no database.

It does only what wechatpy itself does for one encrypted callback: verify msg_signature and
decrypt (WeChatCrypto.decrypt_message), parse_message, create_reply, encrypt_message. No zhibu
code, no database, no dedupe. Served under the same gunicorn settings as the app:

    BARE_TOKEN=... BARE_AES_KEY=... BARE_APP_ID=... \
        .venv/bin/gunicorn -w 2 -k gthread --threads 4 'bench.bare_app:create_app()'
"""

from __future__ import annotations

import os

from flask import Flask, Response, abort, request
from wechatpy import create_reply, parse_message
from wechatpy.crypto import WeChatCrypto

# The same public demo credentials as core/config.py; the bench passes its own through env.
DEFAULT_TOKEN = "zhibudemotoken"
DEFAULT_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
DEFAULT_APP_ID = "wxdemoappid000001"

# About the length of the app's check-in reply, so both encrypt a similar amount.
REPLY = (
    "学习打卡成功！\n今日主题：《学习《中国共产党章程》总纲》\n"
    "心得已记录（20 字）。\n本周已学习 1 天，连续学习 1 天。"
)


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 65536
    crypto = WeChatCrypto(
        os.environ.get("BARE_TOKEN", DEFAULT_TOKEN),
        os.environ.get("BARE_AES_KEY", DEFAULT_AES_KEY),
        os.environ.get("BARE_APP_ID", DEFAULT_APP_ID),
    )

    @app.post("/wechat")
    def callback() -> Response:
        args = request.args
        timestamp = args.get("timestamp", "")
        nonce = args.get("nonce", "")
        try:
            xml = crypto.decrypt_message(
                request.get_data(), args.get("msg_signature", ""), timestamp, nonce
            )
            msg = parse_message(xml)
        except Exception:  # noqa: BLE001 - a bad signature or body is a 403, never a 500
            abort(403)
        reply = create_reply(REPLY, msg).render()
        encrypted = crypto.encrypt_message(reply, nonce, timestamp)
        return Response(encrypted, mimetype="application/xml")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
