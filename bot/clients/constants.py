"""Where the WeChat APIs live, how long a call may take, and the errcodes that matter."""

from __future__ import annotations

from datetime import timedelta

OFFICIAL_API_ROOT = "https://api.weixin.qq.com"
WECOM_API_ROOT = "https://qyapi.weixin.qq.com"
# QR images are served by mp.weixin.qq.com, not by the API host, and no setting names that host:
# production always uses this constant; a non-default api_base_url (the fake, the demo) serves
# /cgi-bin/showqrcode itself. See qr_image_url().
SHOWQRCODE_URL = "https://mp.weixin.qq.com/cgi-bin/showqrcode"

REQUEST_TIMEOUT = 5.0  # seconds per request (connect and read); wechatpy's default is none
# A timeout: seconds for both the connect and the answer, or a (connect, read) pair as requests
# takes it. A connect timeout means nothing was sent; a read timeout means the request went
# out and WeChat may have acted on it.
Timeout = float | tuple[float, float]
DEFAULT_TOKEN_TTL = 7200  # seconds, when a token answer lacks expires_in
TOKEN_USE_MARGIN = timedelta(seconds=60)  # request paths renew a token closer than this to expiry
REFRESH_MARGIN = timedelta(minutes=10)  # the scheduler job renews a token closer than this

# Errcodes meaning "this access token is not (or no longer) valid".
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
# 40001/40014 mean the token was invalidated before its time: the stable_token documentation asks
# for force_refresh then. 42001 (expired) renews without forcing, which stable_token does anyway.
FORCE_REFRESH_ERRORS = frozenset({40001, 40014})
# stable_token answers that mean "not available to this account": 48001 (api unauthorized) is
# what an account without permission for an API gets. An HTTP 404 (a gateway or fake without
# the endpoint) counts too. Any other error (-1 busy, 45009 quota, 40125 bad secret) is raised:
# /cgi-bin/token would fail the same way, and each extra call spends the daily quota.
STABLE_TOKEN_UNSUPPORTED = frozenset({48001})

QR_MAX_EXPIRE = 2_592_000  # 30 days: the longest a temporary QR code lives
SCENE_MAX_LEN = 64
