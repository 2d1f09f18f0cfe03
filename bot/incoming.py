"""The plain message that handlers see: no wechatpy, no Flask."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Incoming:
    """One message or event from a WeChat user, already verified and decrypted."""

    openid: str
    kind: str  # "text", "event", "image", "voice", ... (lower case)
    at: datetime  # CreateTime, aware
    text: str = ""
    event: str = ""  # "subscribe", "scan", "unsubscribe", "click", ... (lower case)
    scene: str = ""  # QR scene or menu key
    msg_id: str = ""
    app: str = "oa"  # "oa" official account, "mini" mini-program

    @property
    def dedupe_key(self) -> str:
        """Messages dedupe on MsgId; events on sender, CreateTime, event and key."""
        if self.msg_id:
            return f"msg:{self.msg_id}"
        return f"evt:{self.openid}:{int(self.at.timestamp())}:{self.event}:{self.scene}"[:128]
