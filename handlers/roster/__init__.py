"""The member roster: import it from Excel or CSV, list its members, issue binding codes.

rows reads a file into text rows, checks judges every row before anything is written,
writing upserts the checked rows; codes decides who may get a binding code and issues them;
members answers the managers' member list and unbinds a member; access holds the managers'
refusals, lookups finds committees and branches by name.
"""

from handlers.roster.checks import parse_date, validate
from handlers.roster.codes import invite
from handlers.roster.rows import COLUMNS, LABELS, RosterError, RosterRow, parse_roster
from handlers.roster.writing import ImportReport, import_roster

__all__ = [
    "COLUMNS",
    "LABELS",
    "ImportReport",
    "RosterError",
    "RosterRow",
    "import_roster",
    "invite",
    "parse_date",
    "parse_roster",
    "validate",
]
