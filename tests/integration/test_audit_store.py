"""The audit trail in the service's database: queried by who and time through its indexes, expired by TTL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from common import mongo
from common.audit import COLLECTION, AuditRecord, MongoAuditStore

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _record(who: str, minutes: int) -> AuditRecord:
    return AuditRecord(who=who, roles=["officer"], kind="personal_data", method="GET",
                       route="/v1/callbacks/{callback_id}", ids=[f"callback_id=cb-{minutes}"], status=200,
                       at=T0 + timedelta(minutes=minutes), address="10.0.0.7", service="notify")


async def test_records_are_kept_queried_and_expire_by_ttl(store_server, db_name) -> None:
    client = mongo.client(store_server.url)
    try:
        db = mongo.database(client, db_name)
        store = MongoAuditStore(db, retention_days=180)
        await store.insert_many([_record("officer-a", m) for m in range(3)] + [_record("officer-b", 5)])
        newest_first = await store.find(None, None, None, 10)
        assert [r.ids[0] for r in newest_first] == ["callback_id=cb-5", "callback_id=cb-2", "callback_id=cb-1",
                                                    "callback_id=cb-0"]
        assert newest_first[0] == _record("officer-b", 5)  # read back as written, tz-aware
        assert [r.at.minute for r in await store.find("officer-a", T0 + timedelta(minutes=1), None, 10)] == [2, 1]
        assert [r.at.minute for r in await store.find("officer-a", None, T0 + timedelta(minutes=1), 10)] == [0]
        assert len(await store.find(None, None, None, 2)) == 2
        indexes = await db[COLLECTION].index_information()
        by_key = {tuple(k for k, _ in ix["key"]): ix for ix in indexes.values()}  # names vary by store
        assert by_key[("at",)]["expireAfterSeconds"] == 180 * 86400
        assert ("who", "at") in by_key
        await MongoAuditStore(db, retention_days=180).ensure_indexes()  # a second replica: no error
    finally:
        client.close()
