"""The three answers a citizen can give (defined with the reply parser, `common.replies`) and the three
channels a rating comes by.

Levels in the order of the survey text: 1 满意, 2 基本满意, 3 不满意.
"""

from __future__ import annotations

from typing import Literal, get_args

from common.replies import LEVEL_BY_DIGIT, LEVEL_LABELS, Level

Channel = Literal["sms", "phone", "on_site"]  # 短信评警, 电话评警, 现场评警
LEVELS: tuple[Level, ...] = get_args(Level)
CHANNELS: tuple[Channel, ...] = get_args(Channel)
CHANNEL_LABELS: dict[Channel, str] = {"sms": "短信", "phone": "电话", "on_site": "现场"}

__all__ = ["CHANNELS", "CHANNEL_LABELS", "LEVELS", "LEVEL_BY_DIGIT", "LEVEL_LABELS", "Channel", "Level"]
