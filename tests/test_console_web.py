"""The console over HTTP: logging in by link and by QR scan, CSRF, who sees which pages."""

from __future__ import annotations

import re
from typing import Any

import pytest

from models.base import db
from models.console import ConsoleLogin
from tests import factories as f
from tests.support.console import TOKEN, link_for, login


@pytest.fixture
def org(app: Any) -> dict[str, Any]:
    with app.app_context(), db.connection_context():
        committee = f.committee("测试党委")
        a, b = f.branch("第一党支部", committee), f.branch("第二党支部", committee)
        people = {
            "sec": f.member("王书记", a, roles="secretary", phone="13800000001"),
            "secb": f.member("李书记", b, roles="secretary", phone="13800000002"),
            "admin": f.member("赵管理员", a, roles="committee_admin", phone="13800000003"),
            "member": f.member("张党员", a, phone="13812345678"),
            "collector": f.member("钱收缴员", a, roles="dues_collector", phone="13800000005"),
        }
        f.bound(people["sec"], "openid-sec")
    return {"a": a, "b": b, **people}


@pytest.fixture
def fake_qr(settings: Any, fake: Any) -> Any:
    """The app's WeChat API is the fake, which creates the login QR codes."""
    settings.wechat.api_base_url = fake.base_url
    return fake


def test_a_link_logs_in_and_lands_on_the_branch_home(app, org):
    client = login(app, org["sec"])
    home = client.get("/console/", follow_redirects=True)
    assert home.status_code == 200
    assert "第一党支部" in home.text and "学习参与率" in home.text and "本月党费" in home.text
    assert "组织生活（三会一课）" in home.text and "待办提醒" in home.text
    cookie = client.get_cookie("zhibu_console")
    assert cookie.http_only and cookie.same_site == "Lax"


def test_a_used_link_says_so_and_nothing_without_a_session(app, org):
    client = app.test_client()
    path = link_for(app, org["sec"])
    token = TOKEN.search(client.get(path).text).group(1)
    assert client.post(path, data={"csrf_token": token}).status_code == 302
    other = app.test_client()
    token = TOKEN.search(other.get(path).text).group(1)
    again = other.post(path, data={"csrf_token": token})
    assert again.status_code == 400 and "这个登录链接已经用过或已失效" in again.text
    assert other.get("/console/committee").status_code == 302  # to the login page


def test_forms_without_the_csrf_token_are_refused(app, org):
    client = app.test_client()
    refused = client.post(link_for(app, org["sec"]))
    assert refused.status_code == 400 and "页面已过期，请刷新页面后重新操作" in refused.text
    logged_in = login(app, org["sec"])
    assert logged_in.post("/console/logout").status_code == 400
    assert logged_in.get("/console/", follow_redirects=True).status_code == 200  # still in


def test_logout_ends_the_session(app, org):
    client = login(app, org["sec"])
    page = client.get(f"/console/branch/{org['a'].id}")
    token = TOKEN.search(page.text).group(1)
    assert client.post("/console/logout", data={"csrf_token": token}).status_code == 302
    assert client.get(f"/console/branch/{org['a'].id}").status_code == 302


def test_managers_see_their_own_branch_and_committee_admins_every_branch(app, org):
    sec = login(app, org["sec"])
    assert sec.get(f"/console/branch/{org['a'].id}").status_code == 200
    other = sec.get(f"/console/branch/{org['b'].id}")
    assert other.status_code == 403 and "没有权限" in other.text
    assert sec.get("/console/committee").status_code == 403
    admin = login(app, org["admin"])
    assert admin.get("/console/").headers["Location"].endswith("/console/committee")
    page = admin.get("/console/committee")
    assert page.status_code == 200 and "第一党支部" in page.text and "第二党支部" in page.text
    assert "不对个人排名" in page.text and "王书记" not in page.text  # branches, not people
    assert admin.get(f"/console/branch/{org['b'].id}").status_code == 200


def test_the_member_list_masks_phones_and_filters(app, org):
    client = login(app, org["sec"])
    page = client.get(f"/console/branch/{org['a'].id}/members")
    assert page.status_code == 200
    assert "138****5678" in page.text and "13812345678" not in page.text
    assert "张党员" in page.text and "李书记" not in page.text  # another branch's member
    found = client.get(f"/console/branch/{org['a'].id}/members?q=张", headers={"HX-Request": "1"})
    assert "张党员" in found.text and "王书记" not in found.text and "<html" not in found.text
    bound = client.get(f"/console/branch/{org['a'].id}/members?bound=yes")
    assert "王书记" in bound.text and "张党员" not in bound.text
    collector = login(app, org["collector"])  # the member list is for branch managers
    assert collector.get(f"/console/branch/{org['a'].id}/members").status_code == 403


def test_a_qr_scan_in_the_official_account_logs_the_browser_in(app, org, wechat, fake_qr):
    browser = app.test_client()
    page = browser.get("/console/login")
    assert page.status_code == 200 and "<svg" in page.text and "用微信扫描下方二维码" in page.text
    with app.app_context(), db.connection_context():
        scene = ConsoleLogin.get(ConsoleLogin.kind == "qr").scene
    waiting = browser.get("/console/login/status")
    assert "等待扫码" in waiting.text
    reply = wechat.deliver(wechat.scan_xml("openid-sec", scene)).reply
    assert "已确认登录控制台" in reply
    done = browser.get("/console/login/status")
    assert done.status_code == 204 and done.headers["HX-Redirect"] == "/console/"
    assert browser.get(f"/console/branch/{org['a'].id}").status_code == 200


def test_the_bot_sends_a_login_link_to_managers_only(app, org, wechat):
    reply = wechat.send_text("openid-sec", "控制台").reply
    match = re.search(r"http://127\.0\.0\.1:5000(/console/login/link/\S+)", reply)
    assert match and "5 分钟内有效" in reply
    client = app.test_client()
    token = TOKEN.search(client.get(match.group(1)).text).group(1)
    assert client.post(match.group(1), data={"csrf_token": token}).status_code == 302
    with app.app_context(), db.connection_context():
        f.bound(org["member"], "openid-member")
    assert "控制台仅供" in wechat.send_text("openid-member", "控制台").reply
    assert "已退出 1 个控制台登录" in wechat.send_text("openid-sec", "退出控制台").reply
    assert client.get("/console/", follow_redirects=False).status_code == 302


def test_the_committee_page_reads_the_same_number_of_times_for_more_branches(
    app, org, monkeypatch
):
    from tests.support.queries import counting_queries

    client = login(app, org["admin"])

    def statements() -> int:
        with counting_queries(monkeypatch) as seen:
            assert client.get("/console/committee").status_code == 200
        return len(seen)

    few = statements()
    with app.app_context(), db.connection_context():
        committee = org["a"].committee
        for n in range(8):
            branch = f.branch(f"新支部{n}", committee)
            f.member(f"书记{n}", branch, roles="secretary", phone=f"1370000000{n}")
    assert statements() == few


def test_the_stylesheet_closes_every_block(app):
    css = app.test_client().get("/console/static/console.css").text
    depth = 0
    for char in css:
        depth += {"{": 1, "}": -1}.get(char, 0)
        assert depth >= 0
    assert depth == 0 and "/* meetings */" in css and "/* dues */" in css


def test_every_alert_on_the_branch_home_links_to_where_it_is_handled(app, org):
    client = login(app, org["sec"])
    home = client.get(f"/console/branch/{org['a'].id}").text
    alerts = home.split('id="alerts-h"')[1]
    assert "学习计划：未来 7 天没有学习主题" in alerts  # no topic in this test's records
    assert f'href="/console/branch/{org["a"].id}/study">去处理' in alerts
