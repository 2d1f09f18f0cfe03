"""Study: check-ins with reflections, the member's week and streak, the day's topic, and the
study plans that committees and branches load (see each module)."""

from handlers.study.checkins import (
    CheckedIn,
    CheckinResult,
    MemberWeek,
    StudyDay,
    StudyRecord,
    check_in,
    check_in_by_message,
    member_week,
    record_study,
    streak,
    study_day,
    study_record,
)
from handlers.study.topics import today_topic, topic_days, topics_between

__all__ = [
    "CheckedIn",
    "CheckinResult",
    "MemberWeek",
    "StudyDay",
    "StudyRecord",
    "check_in",
    "check_in_by_message",
    "member_week",
    "record_study",
    "streak",
    "study_day",
    "study_record",
    "today_topic",
    "topic_days",
    "topics_between",
]
