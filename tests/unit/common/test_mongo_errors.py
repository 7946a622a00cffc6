"""Telling a duplicate document from a taken key of another unique index, as MongoDB and nx-27017 word it."""

from __future__ import annotations

import pytest
from pymongo.errors import DuplicateKeyError

from common.mongo import refused_by_id


def duplicate(details: dict) -> DuplicateKeyError:
    return DuplicateKeyError(details.get("errmsg", "E11000"), 11000, details)


@pytest.mark.parametrize(("details", "by_id"), [
    # MongoDB: keyPattern names the index's fields
    ({"errmsg": "E11000 duplicate key error collection: d.alerts index: _id_ dup key: { _id: \"A1\" }",
      "keyPattern": {"_id": 1}, "keyValue": {"_id": "A1"}}, True),
    ({"errmsg": "E11000 duplicate key error collection: d.alerts index: slot_1 dup key: { slot: \"u:G1 0\" }",
      "keyPattern": {"slot": 1}, "keyValue": {"slot": "u:G1 0"}}, False),
    # MongoDB without keyPattern (older servers): the index name in the message
    ({"errmsg": "E11000 duplicate key error collection: d.alerts index: _id_ dup key: { _id: \"x\" }"}, True),
    ({"errmsg": "E11000 duplicate key error collection: d.alerts index: slot_1 dup key: { slot: \"u:_id_ 0\" }"},
     False),
    # nx-27017 (measured 2026-11-25)
    ({"errmsg": "UNIQUE constraint failed: alerts._id"}, True),
    ({"errmsg": "UNIQUE constraint failed: index 'idx_alerts_slot'"}, False),
])
def test_a_duplicate_id_is_told_apart_from_a_taken_slot(details: dict, by_id: bool) -> None:
    assert refused_by_id(duplicate(details)) is by_id
