"""Organizations and people: committee, branch, party group, member."""

from __future__ import annotations

from peewee import CharField, DateField, ForeignKeyField, IntegerField

from core.clock import utcnow
from models.base import BaseModel, UTCDateTimeField

# Member statuses (DOMAIN.md). Only probationary and full members have dues and meeting duties.
STATUSES: dict[str, str] = {
    "applicant": "入党申请人",
    "activist": "入党积极分子",
    "candidate": "发展对象",
    "probationary": "预备党员",
    "full": "正式党员",
    "away": "流动党员",
    "lost": "失联党员",
    "out": "停止党籍",
    "left": "已离开",
}
PARTY_MEMBER_STATUSES = ("probationary", "full")
# No longer on the roll of this deployment (转出, 去世, 出党, 停止党籍: models.membership): set
# only by the leave use case (handlers.membership), never by a roster import. Their records
# stay under their name; their access, contact details and roles are gone.
LEFT = "left"
# The stored phone of a member who left: the number is removed, and the column is unique.
LEFT_PHONE_PREFIX = "left-"

# Roles inside a branch. committee_admin sees every branch of its committee.
ROLES: dict[str, str] = {
    "secretary": "书记",
    "deputy_secretary": "副书记",
    "organizer": "组织委员",
    "propaganda": "宣传委员",
    "discipline": "纪检委员",
    "dues_collector": "党费收缴员",
    "affairs_staff": "党务专职人员",
    "group_leader": "党小组长",
    "committee_admin": "党委管理员",
}
# Roles that may manage the branch roster and issue binding codes.
BRANCH_MANAGERS = ("secretary", "deputy_secretary", "organizer")


class Committee(BaseModel):
    name = CharField(max_length=100, unique=True)
    created_at = UTCDateTimeField(default=utcnow)


class Branch(BaseModel):
    committee = ForeignKeyField(Committee, backref="branches", on_delete="RESTRICT")
    name = CharField(max_length=100)
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("committee", "name"), True),)


class PartyGroup(BaseModel):
    branch = ForeignKeyField(Branch, backref="groups", on_delete="RESTRICT")
    name = CharField(max_length=100)

    class Meta:
        indexes = ((("branch", "name"), True),)


class Member(BaseModel):
    name = CharField(max_length=50)
    # Mainland mobile number, the roster's natural key. Masked in logs (see mask_phone).
    phone = CharField(max_length=20, unique=True)
    branch = ForeignKeyField(Branch, backref="members", on_delete="RESTRICT")
    party_group = ForeignKeyField(PartyGroup, backref="members", null=True, on_delete="SET NULL")
    status = CharField(max_length=20, default="full", index=True)
    # Comma-separated role codes from ROLES, sorted, e.g. "organizer,secretary".
    roles = CharField(max_length=200, default="")
    joined_on = DateField(null=True)  # 入党日期
    full_on = DateField(null=True)  # 转正日期
    birth_date = DateField(null=True)  # 出生日期 (optional: the committee's age structure)
    last_active_at = UTCDateTimeField(null=True)
    created_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(default=utcnow)
    version = IntegerField(default=1)

    @property
    def role_set(self) -> frozenset[str]:
        return frozenset(r for r in self.roles.split(",") if r)

    def has_role(self, *roles: str) -> bool:
        return bool(self.role_set.intersection(roles))

    @property
    def is_party_member(self) -> bool:
        return self.status in PARTY_MEMBER_STATUSES

    @property
    def has_left(self) -> bool:
        return self.status == LEFT

    @property
    def status_label(self) -> str:
        return STATUSES.get(self.status, self.status)


def acts_for(actor: Member | None, branch: Branch, roles: tuple[str, ...]) -> bool:
    """Whether actor may act for the branch in one of these roles.

    A holder of the roles acts for their own branch; a committee admin for every branch of the
    committee; `None` (the server operator at the command line) for every branch.
    """
    if actor is None:
        return True
    if actor.has_role(*roles) and actor.branch_id == branch.id:
        return True
    if actor.has_role("committee_admin"):
        own = Branch.get_by_id(actor.branch_id)
        return own.committee_id == branch.committee_id
    return False


# Roles that give powers over other members or money: whoever controls the WeChat binding of
# a member holding one acts with it.
POWER_ROLES = (*BRANCH_MANAGERS, "dues_collector", "committee_admin")


def may_manage_binding(actor: Member | None, target: Member) -> bool:
    """Whether actor may issue a binding code for target, or unbind target's account.

    Controlling a member's binding means acting as that member, so a branch manager may do it
    only for members with no power the manager lacks (a secretary not for the committee admin,
    an organizer not for the secretary); a committee admin for every member of the committee's
    branches; `None` (the server operator at the command line) for everyone.
    """
    if actor is None:
        return True
    branch = Branch.get_by_id(target.branch_id)
    if not acts_for(actor, branch, BRANCH_MANAGERS):
        return False
    if actor.has_role("committee_admin"):
        return True
    lacking = target.role_set - actor.role_set
    return not lacking.intersection(POWER_ROLES)


def mask_phone(phone: str | None) -> str:
    """Return a phone number safe for logs: 138****5678."""
    if not phone or phone.startswith(LEFT_PHONE_PREFIX):
        return ""
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "****"
