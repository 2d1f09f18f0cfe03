"""Every model in dependency order, for migrations checks and test clean-up."""

from models.api import ApiSession
from models.assessment import AssessmentFigure
from models.audit import AuditEntry
from models.console import ConsoleLogin, ConsoleSession
from models.development import DevelopmentRecord, DevelopmentReview
from models.dues import DuesAssessment, DuesMonth, DuesPayment, DuesRelief, DuesReport
from models.jobs import JobRun
from models.meetings import Attendance, Meeting, MeetingAttendee
from models.membership import Departure, MemberReturn, Transfer
from models.org import Branch, Committee, Member, PartyGroup
from models.organization import BranchTerm, ContactOutcome
from models.outbox import BranchChannel, MemberContact, OutboxMessage, SubscribeCredit
from models.pay import PayDifference, PayOrder, PayRefund
from models.privacy import ExportLink
from models.reads import ReadEntry, ReadMember
from models.rectification import RectificationItem, RectificationNote
from models.snapshots import BranchSnapshot
from models.study import StudyCheckin, StudyTopic
from models.training import TrainingRecord
from models.volunteer import VolunteerEntry
from models.wechat import BindCode, InboundMessage, RateEvent, SharedValue, WechatBinding

ALL_MODELS = [
    Committee,
    Branch,
    PartyGroup,
    Member,
    WechatBinding,
    BindCode,
    InboundMessage,
    RateEvent,
    StudyTopic,
    StudyCheckin,
    Meeting,
    MeetingAttendee,
    Attendance,
    SharedValue,
    DuesAssessment,
    DuesRelief,
    DuesReport,
    DuesPayment,
    DuesMonth,
    JobRun,
    BranchChannel,
    MemberContact,
    SubscribeCredit,
    OutboxMessage,
    ApiSession,
    ConsoleLogin,
    ConsoleSession,
    BranchSnapshot,
    AuditEntry,
    RectificationItem,
    RectificationNote,
    BranchTerm,
    ContactOutcome,
    AssessmentFigure,
    VolunteerEntry,
    TrainingRecord,
    DevelopmentRecord,
    DevelopmentReview,
    PayOrder,
    PayRefund,
    PayDifference,
    ExportLink,
    Departure,
    Transfer,
    MemberReturn,
    ReadEntry,
    ReadMember,
]
