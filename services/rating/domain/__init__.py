"""The rating rules (短信评警, 电话评警, 现场评警), pure: standard library and `common.timefmt` only.

`reply` reads an SMS reply (`parse_reply`); `surveys` who is asked, when, with which id, code and
text; `model` the Survey, Rating and Followup records and their transition tables (which survey a reply
answers is notify's gateway's to say); `followups` which ratings leadership follows up; `report` the
weekly roll-ups, report rows and CSV;
`spotcheck` the weekly sample called back; `events` what the records record.
"""

from rating.domain.levels import CHANNEL_LABELS, CHANNELS, LEVEL_BY_DIGIT, LEVEL_LABELS, LEVELS, Channel, Level
from rating.domain.model import (
    OPEN_SURVEY_STATES,
    SURVEY_STATES,
    Followup,
    HistoryEntry,
    Rating,
    RatingRefused,
    Survey,
    SurveyReply,
    followup_id_for,
    rating_id_for,
)
from rating.domain.reply import COMMENT_MAX_CHARS, SCAN_MAX_CHARS, Reply, parse_reply
from rating.domain.report import (
    Cell,
    ReportRow,
    Rollup,
    apply,
    increments,
    merge,
    rebuild,
    report_csv,
    report_rows,
)
from rating.domain.spotcheck import SpotCheck, draw_sample, draw_spot_checks, sample_size, spot_check_id
from rating.domain.surveys import (
    SMS_MAX_CHARS,
    SUBJECT_TYPES,
    SurveyPolicy,
    normalize_phone,
    reprompt_text,
    send_time,
    short_code,
    suppression,
    survey_id,
    survey_text,
)

__all__ = [
    "CHANNELS",
    "CHANNEL_LABELS",
    "COMMENT_MAX_CHARS",
    "LEVELS",
    "LEVEL_BY_DIGIT",
    "LEVEL_LABELS",
    "OPEN_SURVEY_STATES",
    "SCAN_MAX_CHARS",
    "SMS_MAX_CHARS",
    "SUBJECT_TYPES",
    "SURVEY_STATES",
    "Cell",
    "Channel",
    "Followup",
    "HistoryEntry",
    "Level",
    "Rating",
    "RatingRefused",
    "Reply",
    "ReportRow",
    "Rollup",
    "SpotCheck",
    "Survey",
    "SurveyPolicy",
    "SurveyReply",
    "apply",
    "draw_sample",
    "draw_spot_checks",
    "followup_id_for",
    "increments",
    "merge",
    "normalize_phone",
    "parse_reply",
    "rating_id_for",
    "rebuild",
    "report_csv",
    "report_rows",
    "reprompt_text",
    "sample_size",
    "send_time",
    "short_code",
    "spot_check_id",
    "suppression",
    "survey_id",
    "survey_text",
]
