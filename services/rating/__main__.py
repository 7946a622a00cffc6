"""`python -m rating` serves rating; `python -m rating rebuild-rollups` rebuilds the weekly roll-ups
from the records."""

import asyncio
import sys

from fengqiao.cli import main


class _NoBroker:
    """The rebuild reads and writes the store only."""

    async def publish_raw(self, *args: object, **kwargs: object) -> None:
        raise ConnectionError("the roll-up rebuild publishes nothing")


async def rebuild() -> int:
    from common import mongo
    from common.clock import SystemClock
    from common.logs import configure_logging, register_secrets
    from common.settings import reveal
    from rating import handlers
    from rating.bootstrap import wire
    from rating.settings import RatingSettings

    settings = RatingSettings()
    configure_logging(settings.log_level, settings.log_json, service="rating")
    register_secrets(*settings.secret_values())
    client = mongo.client(reveal(settings.mongo_url), app_name="fengqiao-rating-rebuild")
    try:
        m = wire(settings, mongo.database(client, settings.mongo_db), SystemClock(), _NoBroker())
        cells = await handlers.rebuild_rollups(m)
    finally:
        client.close()
    print(f"rebuilt {cells} roll-up cells of {settings.mongo_db} from its ratings, surveys and follow-ups")
    return 0


if sys.argv[1:] == ["rebuild-rollups"]:
    sys.exit(asyncio.run(rebuild()))
if sys.argv[1:]:
    sys.exit(f"usage: python -m rating [rebuild-rollups]  (not {' '.join(sys.argv[1:])!r})")
sys.exit(main(["serve", "rating"]))
