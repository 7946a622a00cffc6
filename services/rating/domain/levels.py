"""The three answers a citizen can give and the three channels a rating comes by.

Levels in the order of the survey text: 1 满意, 2 基本满意, 3 不满意.
"""

from __future__ import annotations

from typing import Literal, get_args

Level = Literal["satisfied", "basically", "dissatisfied"]
Channel = Literal["sms", "phone", "on_site"]  # 短信评警, 电话评警, 现场评警
LEVELS: tuple[Level, ...] = get_args(Level)
CHANNELS: tuple[Channel, ...] = get_args(Channel)
LEVEL_BY_DIGIT: dict[str, Level] = {"1": "satisfied", "2": "basically", "3": "dissatisfied"}
LEVEL_LABELS: dict[Level, str] = {"satisfied": "满意", "basically": "基本满意", "dissatisfied": "不满意"}
CHANNEL_LABELS: dict[Channel, str] = {"sms": "短信", "phone": "电话", "on_site": "现场"}
