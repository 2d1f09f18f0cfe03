"""WeChat's XML on the wire: each document parsed once, depth-checked while it streams.

A callback holds two documents, the envelope (``<xml><Encrypt>…``) and, decrypted, the message.
Each is read by one expat pass that refuses a DOCTYPE and nesting deeper than any WeChat message
has, and builds the same dict as ``xmltodict.parse`` (xmltodict's own builder; entity
declarations refused as xmltodict refuses them). The message then becomes the wechatpy message
or event class that ``wechatpy.parse_message`` would pick for it, without parsing it again.
"""

from __future__ import annotations

from typing import Any
from xml.parsers import expat

import xmltodict
from wechatpy.events import EVENT_TYPES
from wechatpy.messages import MESSAGE_TYPES, BaseMessage, UnknownMessage

# WeChat's XML is two levels deep; anything much deeper is hostile (and slow to build).
MAX_XML_DEPTH = 8


class XmlTooDeep(ValueError):
    """The document nests deeper than any WeChat message does, or declares a DOCTYPE."""


def _refuse_doctype(*args: Any) -> None:
    raise XmlTooDeep("a DOCTYPE has no place in a WeChat message")


def _refuse_entities(*args: Any) -> None:
    raise ValueError("entities are disabled")


def parse_xml(xml: bytes | str, limit: int = MAX_XML_DEPTH) -> dict[str, Any]:
    """Parse a WeChat XML document to a dict, as ``xmltodict.parse`` does, in one pass that
    refuses a DOCTYPE and nesting deeper than ``limit`` before any deeper tree is built."""
    handler = xmltodict._DictSAXHandler()
    path = handler.path  # the open elements, kept by the builder
    begin = handler.startElement

    def start(name: str, attrs: Any) -> None:
        if len(path) >= limit:
            raise XmlTooDeep(f"XML nested deeper than {limit}")
        begin(name, attrs)

    # As xmltodict.parse: text is UTF-8; bytes say their own encoding (UTF-8 by default).
    encoding = None
    if isinstance(xml, str):
        xml, encoding = xml.encode("utf-8"), "utf-8"
    parser = expat.ParserCreate(encoding, None)
    parser.ordered_attributes = True
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.EntityDeclHandler = _refuse_entities
    parser.StartElementHandler = start
    parser.EndElementHandler = handler.endElement
    parser.CharacterDataHandler = handler.characters
    parser.buffer_text = True
    parser.Parse(xml, True)
    return handler.item


def message_from(data: dict[str, Any]) -> BaseMessage:
    """The wechatpy message or event for a parsed ``<xml>`` element's fields, picked (and the
    fields of a scan-to-subscribe adjusted) exactly as ``wechatpy.parse_message`` does."""
    message_type = data["MsgType"].lower()
    if message_type != "event" and not message_type.startswith("device_"):
        return MESSAGE_TYPES.get(message_type, UnknownMessage)(data)
    event_type = data["Event"].lower() if "Event" in data else None
    if event_type is None and message_type.startswith("device_"):
        event_type = message_type
    elif message_type.startswith("device_"):
        event_type = f"device_{event_type}"
    if event_type == "subscribe" and data.get("EventKey"):
        event_key = data["EventKey"]
        if event_key.startswith(("scanbarcode|", "scanimage|")):
            event_type = "subscribe_scan_product"
            data["Event"] = event_type
        elif event_key.startswith("qrscene_"):
            event_type = "subscribe_scan"
            data["Event"] = event_type
            data["EventKey"] = event_key[len("qrscene_") :]
    return EVENT_TYPES.get(event_type, UnknownMessage)(data)
