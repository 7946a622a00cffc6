"""Rating tells the station's weekly satisfaction as a fact (`ratings.weekly_satisfaction`), so another
service shows it (dispatch's 两降一升 panel) without reading rating's store."""

from __future__ import annotations

from datetime import timedelta

from common.contracts.ratings import WeeklySatisfaction
from common.timefmt import iso_week
from rating.handlers import Evaluation, weekly_report

#: this week and the ones before it still change (late replies, last week's spot checks)
WEEKS_TOLD = 3


class SatisfactionTeller:
    """Tells each of the last WEEKS_TOLD weeks' station figure when it differs from what this replica told."""

    def __init__(self, m: Evaluation) -> None:
        self._m = m
        self._told: dict[str, tuple[int, ...]] = {}

    async def tick(self) -> int:
        m, now = self._m, self._m.clock.now()
        told = 0
        for back in range(WEEKS_TOLD):
            week = iso_week(now - timedelta(weeks=back), m.settings.zone)
            total = next((r for r in await weekly_report(m, week, "station") if r.channel == "all"), None)
            if total is None:
                continue  # nothing rated, surveyed or excluded that week
            figure = (total.satisfied, total.basically, total.dissatisfied, total.excluded)
            if self._told.get(week) == figure:
                continue
            event = WeeklySatisfaction(
                week=week, station_id=m.settings.station_id, satisfied=total.satisfied, basically=total.basically,
                dissatisfied=total.dissatisfied, rated=total.rated, excluded=total.excluded,
                satisfaction_rate=total.satisfaction_rate, strict_rate=total.strict_rate, as_of=now,
            )
            msg_id = f"{week}/satisfaction/{'-'.join(map(str, figure))}"
            await m.publisher.publish_raw(event.subject, event.model_dump_json().encode(), msg_id)
            self._told[week] = figure
            told += 1
        return told
