"""The mediation rules (矛盾纠纷调处), pure: standard library only.

`model` holds the dispute aggregate and its transition table, `events` what it records, `risk`
the threat-of-violence screening (rules in `risk_rules.toml`), `recurrence` the 90-day link
between disputes, `stats` the figures the station reports.
"""

from mediation.domain.events import (
    DisputeClosedUnresolved,
    DisputeContacted,
    DisputeEscalated,
    DisputeEvent,
    DisputeFollowupDue,
    DisputeHighRisk,
    DisputeOpened,
    DisputeOverdue,
    DisputeReopened,
    DisputeResolved,
)
from mediation.domain.deadlines import FirstContactRule
from mediation.domain.model import (
    FOLLOWUP_AFTER,
    LEVELS,
    MEDIATOR,
    REFERRAL_BODIES,
    SOURCES,
    STATES,
    SYSTEM_ACTOR,
    WITNESS,
    Agreement,
    Dispute,
    DisputeRefused,
    HistoryEntry,
    Level,
    Party,
    Source,
    State,
)
from mediation.domain.recurrence import (
    RECURRENCE_WINDOW,
    RecurrenceCandidate,
    find_recurrence,
    normalize_address,
    normalize_phone,
    recurrence_keys,
)
from mediation.domain.risk import RiskAssessment, RiskMatch, RiskRule, RiskRules, assess_risk, load_risk_rules
from mediation.domain.stats import DisputeStats, dispute_stats

__all__ = [
    "FirstContactRule",
    "FOLLOWUP_AFTER",
    "LEVELS",
    "MEDIATOR",
    "RECURRENCE_WINDOW",
    "REFERRAL_BODIES",
    "SOURCES",
    "STATES",
    "SYSTEM_ACTOR",
    "WITNESS",
    "Agreement",
    "Dispute",
    "DisputeClosedUnresolved",
    "DisputeContacted",
    "DisputeEscalated",
    "DisputeEvent",
    "DisputeFollowupDue",
    "DisputeHighRisk",
    "DisputeOpened",
    "DisputeOverdue",
    "DisputeRefused",
    "DisputeReopened",
    "DisputeResolved",
    "DisputeStats",
    "HistoryEntry",
    "Level",
    "Party",
    "RecurrenceCandidate",
    "RiskAssessment",
    "RiskMatch",
    "RiskRule",
    "RiskRules",
    "Source",
    "State",
    "assess_risk",
    "dispute_stats",
    "find_recurrence",
    "load_risk_rules",
    "normalize_address",
    "normalize_phone",
    "recurrence_keys",
]
