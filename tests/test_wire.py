"""bot.wire reads each document once and must read it as xmltodict and wechatpy do."""

from __future__ import annotations

from typing import Any

import pytest
import xmltodict
from wechatpy import parse_message

from bot.wire import MAX_XML_DEPTH, XmlTooDeep, message_from, parse_xml


def _doc(msg_type: str, extra: str = "") -> str:
    return (
        "<xml><ToUserName><![CDATA[gh_x]]></ToUserName><FromUserName><![CDATA[o-1]]>"
        "</FromUserName><CreateTime>1700000000</CreateTime>"
        f"<MsgType><![CDATA[{msg_type}]]></MsgType>{extra}</xml>"
    )


DOCUMENTS = {
    "text": _doc(
        "text", "<Content><![CDATA[学习 今天 ]]]]><![CDATA[>]]></Content><MsgId>1</MsgId>"
    ),
    "text, empty content": _doc("text", "<Content></Content><MsgId>2</MsgId>"),
    "text, nested content": _doc("text", "<Content>a<b x='1'>c</b>d</Content>"),
    "text, repeated field": _doc("text", "<Content>a</Content><Content>b</Content>"),
    "text, attributes": _doc("text", '<Content lang="zh"> 学习 </Content>'),
    "image": _doc("image", "<PicUrl>http://x/y.jpg</PicUrl><MediaId>m</MediaId>"),
    "a new kind": _doc("channels_live", "<Stuff>1</Stuff>"),
    "subscribe": _doc("event", "<Event>subscribe</Event>"),
    "subscribe by scan": _doc(
        "event", "<Event>subscribe</Event><EventKey>qrscene_mt_1</EventKey>"
    ),
    "subscribe by barcode": _doc(
        "event", "<Event>subscribe</Event><EventKey>scanbarcode|x</EventKey>"
    ),
    "SCAN": _doc("event", "<Event>SCAN</Event><EventKey>mt_1</EventKey><Ticket>t</Ticket>"),
    "CLICK": _doc("event", "<Event>CLICK</Event><EventKey>menu</EventKey>"),
    "an unknown event": _doc("event", "<Event>brand_new</Event>"),
    "an event without Event": _doc("event"),
    "device event": _doc("device_event", "<Event>bind</Event>"),
    "device text": _doc("device_text"),
    "entities and whitespace": _doc("text", "<Content>\n  a &amp; b &lt;c&gt;  \n</Content>"),
}


def _fields(message: Any) -> tuple[type, dict[str, Any], str, str]:
    return type(message), message._data, message.type, getattr(message, "event", "")


@pytest.mark.parametrize("name", DOCUMENTS)
def test_a_message_reads_as_xmltodict_and_wechatpy_read_it(name: str) -> None:
    xml = DOCUMENTS[name]
    assert parse_xml(xml) == xmltodict.parse(xml)
    assert parse_xml(xml.encode()) == xmltodict.parse(xml.encode())
    assert _fields(message_from(parse_xml(xml)["xml"])) == _fields(parse_message(xml))


@pytest.mark.parametrize(
    "xml",
    [
        '<!DOCTYPE xml [<!ENTITY a "b">]><xml><A>&a;</A></xml>',
        '<!DOCTYPE xml SYSTEM "http://127.0.0.1:9/x.dtd"><xml/>',
        "<xml>" + "<a>" * MAX_XML_DEPTH + "</a>" * MAX_XML_DEPTH + "</xml>",
    ],
)
def test_a_doctype_or_deep_nesting_is_refused_while_streaming(xml: str) -> None:
    with pytest.raises(XmlTooDeep):
        parse_xml(xml)


def test_the_deepest_document_allowed_parses() -> None:
    depth = MAX_XML_DEPTH - 1  # below the root
    xml = "<xml>" + "<a>" * depth + "x" + "</a>" * depth + "</xml>"
    assert parse_xml(xml) == xmltodict.parse(xml)


def test_an_undefined_entity_is_an_error() -> None:
    with pytest.raises(Exception, match="undefined entity"):
        parse_xml("<xml><A>&xxe;</A></xml>")
