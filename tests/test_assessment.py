"""Branch assessment (星级评定): each criterion's rate from constructed records, the weights'
renormalisation, stars and ranks, stored months and the trend, who sees what, the job and the
backfill, the settings, and a constant number of statements whatever the number of branches."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core import config
from core.clock import UTC
from core.config import ASSESSMENT_CRITERIA, ConfigError
from handlers.assessment import (
    LABELS,
    REGISTRY,
    Measure,
    branch_assessment,
    committee_assessment,
    ranked,
    score_branch,
    store_last_month,
)
from handlers.assessment.scores import stars_of
from handlers.assessment.views import assessment_named, backfill
from handlers.errors import Forbidden, Invalid
from handlers.study import record_study
from models.assessment import AssessmentFigure
from models.development import DevelopmentRecord, DevelopmentReview
from models.org import Branch
from models.organization import BranchTerm
from models.rectification import RectificationItem
from models.training import TrainingRecord
from models.volunteer import VolunteerEntry
from tests import factories as f
from tests.support.meetings import meet
from tests.support.queries import counting_queries

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 5, 10, 0, tzinfo=SH)
NOV = date(2026, 11, 1)
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)
BASE_FEN = 800_000  # 8,000.00 in service: 120.00 a month

LATER = ("training", "development", "term", "volunteer")

pytestmark = pytest.mark.clock(NOW)


def old_branch(name: str, committee) -> Branch:
    """A branch in the system since January (judged for every month since)."""
    branch = f.branch(name, committee)
    branch.created_at = LONG_AGO
    branch.save()
    return branch


def item(branch: Branch, number: int, deadline: date, done_on: date | None = None) -> None:
    RectificationItem.create(
        branch=branch,
        number=number,
        kind="problem",
        source="self_check",
        problem=f"问题{number}",
        deadline=deadline,
        status="done" if done_on else "in_progress",
        done_on=done_on,
    )


def only_monthly_theme_day(settings) -> None:
    """Require only the 主题党日 every month and the 党课 every quarter."""
    m = settings.meetings
    for kind in ("general", "committee", "group", "life_meeting", "appraisal"):
        setattr(m, f"frequency_{kind}", "none")
    m.frequency_theme_day = "month"
    m.frequency_lesson = "quarter"


@pytest.fixture
def org(conn, settings):
    """Branch A (a full November), B (little done), C (nothing due but study), D (new in
    November: not judged), and another committee's branch X. The four criteria with their own
    tests (tests/test_assessment_criteria.py) weigh 0 here, so the scores are the first four's."""
    only_monthly_theme_day(settings)
    for name in LATER:
        setattr(settings.assessment, f"weight_{name}", 0)
    committee = f.committee("示范党委")
    a, b, c = (old_branch(n, committee) for n in ("第一党支部", "第二党支部", "第三党支部"))
    d = f.branch("第四党支部", committee)
    d.created_at = datetime(2026, 11, 15, tzinfo=SH)
    d.save()
    x = old_branch("外党委支部", f.committee("另一个党委"))
    people = {
        "admin": f.member("管理员", a, roles="committee_admin"),
        "sec_a": f.member("甲书记", a, roles="secretary"),
        "sec_b": f.member("乙书记", b, roles="secretary"),
        "m_a": f.member("甲党员", a),
        "m_b": f.member("乙党员", b),
        "m_c": f.member("丙党员", c, status="probationary"),
        "m_x": f.member("外党员", x),
    }
    # Meetings: A held November's 主题党日, B only planned one that was cancelled.
    meet(a, "theme_day", datetime(2026, 11, 12, 14, 0, tzinfo=SH))
    meet(b, "theme_day", datetime(2026, 11, 12, 14, 0, tzinfo=SH), status="cancelled")
    meet(c, "theme_day", datetime(2026, 11, 3, 14, 0, tzinfo=SH))
    # Study: in A two of three party members checked in during November; in B one in October.
    for person in ("sec_a", "m_a"):
        record_study(
            people[person], "", now=datetime(2026, 11, 20, 9, tzinfo=SH), tz=SH, max_chars=500
        )
    record_study(people["m_b"], "", now=datetime(2026, 10, 20, 9, tzinfo=SH), tz=SH, max_chars=500)
    record_study(people["m_c"], "", now=datetime(2026, 11, 2, 9, tzinfo=SH), tz=SH, max_chars=500)
    # Dues: A's three owe 120.00 each for November, one paid; B's two owe, nobody paid.
    for person in ("admin", "sec_a", "m_a", "m_x", "sec_b", "m_b"):
        f.assess(people[person], base_fen=BASE_FEN, from_month=date(2026, 10, 1))
    f.pay(people["m_a"], NOV, amount_fen=12_000)
    # Rectification: A had three items due in November, one done on time, one late, one open;
    # one due in December does not count; B had one due and done on time.
    item(a, 1, date(2026, 11, 10), date(2026, 11, 9))
    item(a, 2, date(2026, 11, 20), date(2026, 11, 25))
    item(a, 3, date(2026, 11, 30))
    item(a, 4, date(2026, 12, 3), date(2026, 11, 1))
    item(b, 1, date(2026, 11, 5), date(2026, 11, 5))
    return {"a": a, "b": b, "c": c, "d": d, "x": x, **people}


def parts(score) -> dict[str, tuple[str, float | None]]:
    return {p.name: (p.measure.text, p.rate) for p in score.parts}


def test_each_criterion_is_judged_from_the_records(org, settings):
    view = committee_assessment(org["admin"], NOV, now=NOW, settings=settings)
    by_id = {s.branch_id: s for s in view.rows}
    a = parts(by_id[org["a"].id])
    assert a["meetings"] == ("达标 1/1 项", 1.0)
    assert a["study"] == ("参学 2/3 人", pytest.approx(2 / 3))
    assert a["dues"] == ("实收 120.00元/应收 360.00元", pytest.approx(1 / 3))
    assert a["rectification"] == ("按期完成 1/3 项", pytest.approx(1 / 3))
    assert a["training"] == ("达到进度 0/3 人，计入 0/88 学时", None)  # weight 0: not counted
    assert a["development"] == ("本月没有到期的发展党员工作", None)
    assert a["term"] == ("未登记换届信息", None)
    assert a["volunteer"] == ("参加 0/3 人，计入 0/3 小时", None)
    b = parts(by_id[org["b"].id])
    assert b["meetings"] == ("达标 0/1 项", 0.0)  # a cancelled meeting counts for nothing
    assert b["study"] == ("参学 0/2 人", 0.0)  # October's check-in is not November's
    assert b["dues"] == ("实收 0.00元/应收 240.00元", 0.0)
    assert b["rectification"] == ("按期完成 1/1 项", 1.0)
    c = parts(by_id[org["c"].id])
    assert c["dues"] == ("本月没有应收党费", None)
    assert c["rectification"] == ("本月没有到期的整改事项", None)
    assert c["study"] == ("参学 1/1 人", 1.0)


def test_the_score_is_the_weighted_mean_of_what_applies(org, settings):
    view = committee_assessment(org["admin"], NOV, now=NOW, settings=settings)
    a = next(s for s in view.rows if s.branch_id == org["a"].id)
    # meetings 20 × 1 + study 15 × 2/3 + dues 15 × 1/3 + rectification 10 × 1/3, of 60.
    assert a.score == round((20 + 10 + 5 + 10 / 3) / 60 * 100, 1) == 63.9
    shares = {p.name: p.share for p in a.parts}
    assert shares["meetings"] == pytest.approx(100 * 20 / 60)
    assert shares["training"] is None and not a.renormalised  # weight 0: out everywhere
    assert sum(p.points for p in a.parts if p.counted) == pytest.approx(a.score, abs=0.05)
    assert (a.stars, a.stars_label) == (2, "二星")
    c = next(s for s in view.rows if s.branch_id == org["c"].id)
    # C: meetings (20) and study (15) apply, both met: 100.
    assert (c.score, c.stars, c.stars_label) == (100.0, 5, "五星")
    assert {p.name for p in c.parts if p.counted} == {"meetings", "study"}
    assert c.renormalised  # dues and rectification were not due


def test_branches_are_ranked_and_the_new_one_is_not_judged(org, settings):
    view = committee_assessment(org["admin"], NOV, now=NOW, settings=settings)
    order = [(s.branch_name, s.rank) for s in view.rows]
    assert order == [("第三党支部", 1), ("第一党支部", 2), ("第二党支部", 3), ("第四党支部", None)]
    d = view.rows[-1]
    assert not d.judged and d.score is None and d.stars_label == "未评定"
    assert parts(d)["meetings"][0] == "本月尚未使用本系统，不评定"
    assert view.ranked_count == 3
    assert "外党委支部" not in [s.branch_name for s in view.rows]


def test_equal_scores_share_a_rank_and_weights_renormalise(settings):
    full = {"study": Measure(2, 2, "参学 2/2 人")}
    half = {"study": Measure(1, 2, "参学 1/2 人"), "dues": Measure(0, 0, "本月没有应收党费")}
    scores = [
        score_branch(1, "一", NOV, full, settings),
        score_branch(2, "二", NOV, half, settings),
        score_branch(3, "三", NOV, dict(full), settings),
        score_branch(4, "四", NOV, {}, settings),
    ]
    assert [(s.branch_id, s.score, s.rank) for s in ranked(scores)] == [
        (1, 100.0, 1),
        (3, 100.0, 1),
        (2, 50.0, 3),
        (4, None, None),
    ]
    settings.assessment.weight_study = 0
    assert score_branch(1, "一", NOV, full, settings).score is None  # nothing left to count


@pytest.mark.parametrize(
    ("score", "stars"),
    [(100, 5), (90, 5), (89.9, 4), (80, 4), (70, 3), (60, 2), (59.9, 1), (0, 1)],
)
def test_star_bands(settings, score, stars):
    assert stars_of(score, settings) == stars


def test_the_registry_and_the_settings_name_the_same_criteria():
    assert tuple(LABELS) == ASSESSMENT_CRITERIA
    assert tuple(REGISTRY) == ASSESSMENT_CRITERIA  # every criterion is judged from records


def test_a_quarter_requirement_counts_in_its_last_month(org, settings):
    """The 党课 (quarterly) is judged in September only: A held one in August."""
    meet(org["a"], "lesson", datetime(2026, 8, 20, 14, 0, tzinfo=SH))
    meet(org["a"], "theme_day", datetime(2026, 8, 21, 14, 0, tzinfo=SH))
    aug = branch_assessment(org["sec_a"], None, date(2026, 8, 1), now=NOW, settings=settings)
    sep = branch_assessment(org["sec_a"], None, date(2026, 9, 1), now=NOW, settings=settings)
    assert parts(aug.score)["meetings"] == ("达标 1/1 项", 1.0)
    assert parts(sep.score)["meetings"] == ("达标 1/2 项", 0.5)  # lesson met, theme day missed


def test_the_secretary_sees_their_branch_its_place_and_its_trend(org, settings):
    view = branch_assessment(org["sec_a"], None, None, now=NOW, settings=settings)
    assert view.score.month == NOV and view.score.branch_id == org["a"].id
    assert (view.score.rank, view.ranked_count) == (2, 3)
    assert [s.month for s in view.trend] == [date(2026, m, 1) for m in range(6, 12)]
    assert view.trend[-1].score == view.score.score
    d = branch_assessment(org["admin"], org["d"].id, None, now=NOW, settings=settings)
    assert [s.judged for s in d.trend] == [False] * 6 and d.score.rank is None
    with pytest.raises(Forbidden):
        branch_assessment(org["sec_b"], org["a"].id, None, now=NOW, settings=settings)
    with pytest.raises(Forbidden):
        branch_assessment(org["m_a"], None, None, now=NOW, settings=settings)
    with pytest.raises(Forbidden):
        committee_assessment(org["sec_a"], None, now=NOW, settings=settings)
    with pytest.raises(Forbidden):
        branch_assessment(org["admin"], org["x"].id, None, now=NOW, settings=settings)


def test_a_branch_has_the_place_the_committee_table_gives_it(org, settings):
    """The branch view ranks from a lean read of the committee's rates, not the table: the
    same places, ties included, and none for a branch without a score."""
    m_c2 = f.member("丙党员二", org["c"], status="probationary")
    record_study(m_c2, "", now=datetime(2026, 11, 3, 9, tzinfo=SH), tz=SH, max_chars=500)
    twin = old_branch("第五党支部", org["a"].committee)  # C's twin: the same figures, 100
    meet(twin, "theme_day", datetime(2026, 11, 5, 14, 0, tzinfo=SH))
    for name in ("戊党员", "戊党员二"):
        person = f.member(name, twin, status="probationary")
        record_study(person, "", now=datetime(2026, 11, 4, 9, tzinfo=SH), tz=SH, max_chars=500)
    table = committee_assessment(org["admin"], NOV, now=NOW, settings=settings)
    assert [s.rank for s in table.rows] == [1, 1, 3, 4, None]
    for row in table.rows:
        one = branch_assessment(org["admin"], row.branch_id, NOV, now=NOW, settings=settings)
        assert (one.score.score, one.score.rank) == (row.score, row.rank)
        assert one.ranked_count == table.ranked_count == 4


def test_only_complete_months_are_assessed(org, settings):
    with pytest.raises(Invalid, match="2026年12月尚未结束.*2026年11月 或更早"):
        committee_assessment(org["admin"], date(2026, 12, 1), now=NOW, settings=settings)
    view = committee_assessment(org["admin"], None, now=NOW, settings=settings)
    assert view.month == NOV


def test_a_month_is_judged_once_and_stored(org, settings, monkeypatch):
    committee_assessment(org["admin"], NOV, now=NOW, settings=settings)
    stored = AssessmentFigure.select().where(AssessmentFigure.month == NOV).count()
    assert stored == 3 * len(REGISTRY)  # A, B, C; not D (not judged), not X (another committee)
    # A record entered late does not change the stored month until it is judged again.
    f.pay(org["m_b"], NOV, amount_fen=12_000)
    with counting_queries(monkeypatch) as seen:
        again = committee_assessment(org["admin"], NOV, now=NOW, settings=settings)
    assert len(seen) <= 4, seen
    b = next(s for s in again.rows if s.branch_id == org["b"].id)
    assert parts(b)["dues"][1] == 0.0
    name, months, count = backfill(
        date(2026, 11, 1), date(2026, 11, 1), committee_name="示范党委", now=NOW, settings=settings
    )
    assert (name, months, count) == ("示范党委", [NOV], 3)
    later = committee_assessment(org["admin"], NOV, now=NOW, settings=settings)
    b = next(s for s in later.rows if s.branch_id == org["b"].id)
    assert parts(b)["dues"] == ("实收 120.00元/应收 240.00元", 0.5)


def test_the_job_stores_last_month_for_every_committee(org, settings):
    first = datetime(2026, 12, 1, 1, 30, tzinfo=SH)
    assert store_last_month(first, settings) == 4  # A, B, C and X
    assert store_last_month(first, settings) == 4  # again: replaced, not doubled
    rows = AssessmentFigure.select().where(AssessmentFigure.month == NOV).count()
    assert rows == 4 * len(REGISTRY)


def test_the_operator_reads_a_committee_or_a_branch_by_name(org, settings):
    table = assessment_named(
        NOV, committee_name="示范党委", branch_name=None, now=NOW, settings=settings
    )
    assert [s.branch_name for s in table.rows][:1] == ["第三党支部"]
    one = assessment_named(
        NOV, committee_name="示范党委", branch_name="第一党支部", now=NOW, settings=settings
    )
    assert one.score.branch_name == "第一党支部" and len(one.trend) == 6


def _committee_of(size: int, settings) -> object:
    committee = f.committee(f"规模党委{size}")
    admin = None
    for n in range(size):
        branch = old_branch(f"规模{size}支部{n}", committee)
        person = f.member(br=branch, roles="committee_admin" if n == 0 else "")
        f.assess(person, base_fen=BASE_FEN, from_month=date(2026, 10, 1))
        f.pay(person, NOV, amount_fen=12_000)
        record_study(person, "", now=datetime(2026, 11, 20, 9, tzinfo=SH), tz=SH, max_chars=500)
        f.group(branch)
        meet(branch, "theme_day", datetime(2026, 11, 12, 14, 0, tzinfo=SH))
        item(branch, 1, date(2026, 11, 10), date(2026, 11, 9))
        # The later criteria met, with records each of their reads finds: 30 学时 recorded
        # (the bar to November is 29⅓), an hour's service confirmed, a current term, a talk
        # and a review held on time.
        TrainingRecord.create(
            member=person, branch=branch, title="县委党校培训", day=date(2026, 10, 9), minutes=1800
        )
        VolunteerEntry.create(
            member=person,
            branch=branch,
            day=date(2026, 11, 7),
            minutes=60,
            description="社区清扫",
            status="confirmed",
        )
        BranchTerm.create(branch=branch, started_on=date(2025, 3, 1))
        applicant = f.member(br=branch, status="applicant")
        DevelopmentRecord.create(
            member=applicant, applied_on=date(2026, 10, 12), talked_on=date(2026, 11, 2)
        )
        activist = f.member(br=branch, status="activist")
        record = DevelopmentRecord.create(member=activist, activist_on=date(2026, 5, 20))
        DevelopmentReview.create(record=record, on=date(2026, 11, 13))
        admin = admin or person
    return admin


def test_judging_a_committee_takes_the_same_statements_at_any_size(conn, settings, monkeypatch):
    only_monthly_theme_day(settings)
    counts = []
    for size in (2, 7):
        admin = _committee_of(size, settings)
        with counting_queries(monkeypatch) as seen:
            view = committee_assessment(admin, NOV, now=NOW, settings=settings)
        assert len(view.rows) == size and all(s.score == 100.0 for s in view.rows)
        assert all(p.counted for s in view.rows for p in s.parts)  # all eight criteria apply
        with counting_queries(monkeypatch) as mine:
            branch_assessment(admin, None, NOV, now=NOW, settings=settings)
        counts.append((len(seen), len(mine)))
    assert counts[0] == counts[1], counts


# ---- settings ---------------------------------------------------------------------------------


def _load(tmp_path: Path, text: str, **env: str) -> config.Settings:
    path = tmp_path / "c.toml"
    key = 'secret_key = "' + "k" * 40 + '"'
    path.write_text(f"[app]\n{key}\n{text}", encoding="utf-8")
    return config.load(environ={"ZHIBU_CONFIG": str(path), **env})


@pytest.mark.parametrize(
    ("text", "key", "says"),
    [
        ("[assessment]\nweight_dues = -5\n", "assessment.weight_dues", "0 or more"),
        ("[assessment]\nweight_speed = 5\n", "assessment.weight_speed", "unknown criterion"),
        ("[assessment]\nfour_stars = 95\n", "assessment.four_stars", "below five_stars (90)"),
        ("[assessment]\ntrend_months = 0\n", "assessment.trend_months", "1 to 24"),
        ("[assessment]\nfive_stars = 101\n", "assessment.five_stars", "0 to 100"),
        (
            "[assessment]\n" + "".join(f"weight_{name} = 0\n" for name in ASSESSMENT_CRITERIA),
            "assessment.weight_meetings",
            "at least one",
        ),
    ],
)
def test_wrong_assessment_settings_name_the_key(tmp_path, text, key, says):
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, text)
    line = str(err.value.code)
    assert key in line and says in line and "\n" not in line


def test_weights_are_read_from_the_file(tmp_path):
    settings = _load(tmp_path, "[assessment]\nweight_meetings = 40\nweight_training = 0\n")
    assert settings.assessment.weight_meetings == 40
    assert settings.assessment.weight_training == 0
    assert settings.assessment.trend_months == 6
    from_env = _load(tmp_path, "", ZHIBU_ASSESSMENT__WEIGHT_STUDY="30")
    assert from_env.assessment.weight_study == 30
    with pytest.raises(ConfigError, match="ZHIBU_ASSESSMENT__WEIGHT_SPEED"):
        _load(tmp_path, "", ZHIBU_ASSESSMENT__WEIGHT_SPEED="5")


def test_a_month_with_nothing_stored_yet_is_judged_on_the_first_view(org, settings):
    assert AssessmentFigure.select().count() == 0
    view = branch_assessment(
        org["sec_b"], None, NOV, now=NOW + timedelta(days=1), settings=settings
    )
    assert view.score.score is not None
    stored = AssessmentFigure.select().where(AssessmentFigure.month == NOV).count()
    assert stored == 3 * len(REGISTRY)


# ---- the command line -------------------------------------------------------------------------


def test_the_cli_prints_the_committee_table_and_a_branch(app, org):
    runner = app.test_cli_runner()
    out = runner.invoke(args=["report", "assessment", "2026-11", "--committee", "示范党委"])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].startswith("示范党委 2026年11月 支部星级评定：4 个支部，3 个参加排名")
    assert lines[2].split("\t")[:5] == ["名次", "支部", "得分", "星级", "会议合规"]
    assert lines[3].split("\t")[:4] == ["1", "第三党支部", "100.0", "五星"]
    assert lines[4].split("\t")[:5] == ["2", "第一党支部", "63.9", "二星", "达标 1/1 项（100%）"]
    assert lines[-1].split("\t")[:4] == ["—", "第四党支部", "—", "未评定"]
    one = runner.invoke(args=["report", "assessment", "--branch", "第一党支部"])
    assert one.exit_code == 0, one.output
    assert one.output.splitlines()[0] == "第一党支部 2026年11月：63.9 分，二星，第2名/共3个支部"
    assert "  培训学时\t权重 0\t达到进度 0/3 人，计入 0/88 学时\t不计分" in one.output
    assert "近 6 个月：2026-06 " in one.output and "2026-11 63.9" in one.output
    early = runner.invoke(args=["report", "assessment", "2026-12"])
    assert early.exit_code == 1 and "2026年12月尚未结束" in early.output


def test_the_cli_backfills_months(app, org):
    runner = app.test_cli_runner()
    args = ["assessment", "backfill", "--from", "2026-10", "--to", "2026-11"]
    unnamed = runner.invoke(args=args)
    assert unnamed.exit_code == 1 and "数据库中有多个党委" in unnamed.output
    out = runner.invoke(args=[*args, "--committee", "示范党委"])
    assert out.exit_code == 0, out.output
    assert "示范党委：已重新评定 2026-10 至 2026-11 共 2 个月，6 个支部月。" in out.output
    months = {row.month for row in AssessmentFigure.select(AssessmentFigure.month)}
    assert months == {date(2026, 10, 1), NOV}


# ---- the committee's monthly report -----------------------------------------------------------


def test_the_committee_report_has_the_assessment_sheet_for_a_complete_month(org, settings):
    import io

    from openpyxl import load_workbook

    from handlers.reports import month_report, report_bytes

    committee_id = org["a"].committee_id
    report = month_report(None, 2026, 11, committee_id=committee_id, settings=settings, now=NOW)
    sheet = load_workbook(io.BytesIO(report_bytes(report)))["星级评定"]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0][:5] == ["名次", "支部", "得分", "星级", "会议合规（权重20）"]
    assert rows[1][:5] == [1, "第三党支部", 100, "五星", "达标 1/1 项（100%）"]
    assert rows[2][:4] == [2, "第一党支部", 63.9, "二星"]
    assert rows[4][:4] == [None, "第四党支部", None, "未评定"]
    current = month_report(None, 2026, 12, committee_id=committee_id, settings=settings, now=NOW)
    assert current.assessment is None  # December is not over
    branch = month_report(None, 2026, 11, branch_id=org["a"].id, settings=settings, now=NOW)
    assert branch.assessment is None  # a branch's report ranks nobody
