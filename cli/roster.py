"""Flask CLI: `roster import FILE` loads the roster, `roster invite` issues binding codes."""

from __future__ import annotations

import os
import sys
from typing import NoReturn
from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask.cli import AppGroup

from core.clock import utcnow
from core.tabular import csv_writer
from handlers.binding import IssuedCode, format_code
from handlers.errors import DomainError
from handlers.roster import RosterError, import_roster, invite
from handlers.roster.lookups import committee_names
from models.base import db
from models.org import mask_phone

roster_cli = AppGroup("roster", help="Member roster: import from Excel/CSV, issue binding codes.")

INVITE_COLUMNS = ["支部", "姓名", "手机号", "绑定码", "有效期至", "发给党员的说明"]


def _fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(1)


def _default_committee(option: str | None) -> str:
    """Return the committee named by --committee, or the only one in the database."""
    if option is not None:
        if not option.strip():
            _fail("--committee 不能为空。")
        return option.strip()
    names = committee_names()
    if len(names) == 1:
        return names[0]
    if not names:
        _fail("数据库中还没有党委，请用 --committee 指定党委名称（不存在时将自动创建）。")
    _fail("数据库中有多个党委（" + "、".join(names) + "），请用 --committee 指定其中一个。")


@roster_cli.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--committee", default=None, help="党委名称（数据库中只有一个党委时可省略）。")
def import_command(file: str, committee: str | None) -> None:
    """Import members from an .xlsx or .csv roster; any bad row means nothing is written."""

    def progress(done: int, total: int) -> None:
        click.echo(f"进度：{done}/{total} 行")

    with db.connection_context():
        name = _default_committee(committee)
        try:
            report = import_roster(
                file, name, progress=progress, settings=current_app.config["ZHIBU"]
            )
        except RosterError as exc:
            _fail(exc.message)
        except DomainError as exc:
            _fail(f"导入失败，未写入任何数据：{exc.message}")
    lines = [
        f"导入完成（{name}）：共 {report.total} 人，新增 {report.created} 人，"
        f"更新 {report.updated} 人，未变 {report.unchanged} 人。"
    ]
    created = []
    if report.committee_created:
        created.append("党委 1 个")
    if report.branches_created:
        created.append(f"支部 {report.branches_created} 个")
    if report.groups_created:
        created.append(f"党小组 {report.groups_created} 个")
    if created:
        lines.append("新建" + "，".join(created) + "。")
    if report.dues_set:
        lines.append(f"为 {report.dues_set} 名党员登记了新的党费类别或基数。")
    click.echo("\n".join(lines))


def _open_new(path: str) -> int:
    """Create the output file, readable by its owner only: it holds working codes."""
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        _fail(f"文件 {path} 已存在，请用 --out 指定一个新文件名。")
    except OSError as exc:
        _fail(f"无法创建文件 {path}：{exc.strerror}")


@roster_cli.command("invite")
@click.option("--branch", default=None, help="只为这个支部发放（默认：全部支部）。")
@click.option("--committee", default=None, help="党委名称（数据库中只有一个党委时可省略）。")
@click.option("--out", "out", default=None, type=click.Path(dir_okay=False), help="CSV 文件路径。")
def invite_command(branch: str | None, committee: str | None, out: str | None) -> None:
    """Issue binding codes to members not yet bound and write them to a CSV for the secretary."""
    settings = current_app.config["ZHIBU"]
    tz = ZoneInfo(settings.app.timezone)
    now = utcnow()
    path = os.path.abspath(out or f"bind-codes-{now.astimezone(tz):%Y%m%d-%H%M%S}.csv")

    def write_csv(issued: list[IssuedCode]) -> None:
        # Runs inside the issuing transaction: a failed write issues no code. Names and
        # branches are whatever people typed: the writer keeps them from running as formulas.
        writer = csv_writer(fh)
        writer.writerow(INVITE_COLUMNS)
        for item in issued:
            code = format_code(item.code)
            until = item.expires_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
            writer.writerow(
                [
                    item.member.branch.name,
                    item.member.name,
                    mask_phone(item.member.phone),
                    code,
                    until,
                    f"请在公众号发送“绑定 {code}”完成绑定，{until}前有效，请勿转给他人。",
                ]
            )
        fh.flush()
        os.fsync(fh.fileno())

    with db.connection_context():
        name = _default_committee(committee) if committee or not branch else None
        fh = os.fdopen(_open_new(path), "w", encoding="utf-8-sig", newline="")
        try:
            with fh:
                issued = invite(branch, name, settings=settings, now=now, deliver=write_csv)
        except DomainError as exc:
            os.unlink(path)
            _fail(exc.message)
        except OSError as exc:
            os.unlink(path)
            _fail(f"写入文件 {path} 失败（{exc.strerror}），未发放任何绑定码。")
        except BaseException:
            os.unlink(path)
            raise
    if not issued:
        os.unlink(path)
        click.echo("没有需要发放绑定码的党员：名册中的党员都已绑定微信。")
        return
    click.echo(
        f"已为 {len(issued)} 名党员生成绑定码，写入 {path}\n"
        "请逐一私发给本人（党员在公众号发送“绑定 绑定码”即可绑定）；"
        "文件含有效绑定码，发完后请删除。再次运行会作废此前未使用的绑定码。"
    )
