"""docs/roles.md is read from the routes the services build: every /v1 route has its roles."""

from __future__ import annotations

from fengqiao import roles
from fengqiao.services import SERVICES


def test_every_v1_route_of_every_service_declares_its_roles() -> None:
    for name in SERVICES:
        found = roles.rows(name)
        assert found, name
        unknown = [(m, p) for m, p, r, _ in found if r is None]
        assert unknown == [], f"{name}: routes that declare no roles: {unknown}"
        assert ("GET", "/v1/audit", frozenset({"admin"}), "") in found  # every service has its audit route


def test_the_review_s_findings_hold_in_the_code() -> None:
    rating = {(m, p): r for m, p, r, _ in roles.rows("rating")}
    assert "leadership" not in rating[("POST", "/v1/ratings")]
    for name in SERVICES:
        for method, path, granted, _ in roles.rows(name):
            if method != "GET" and "integration" in (granted or ()):
                # what other systems may change: report a dispute or a hazard (信息员's apps),
                # hand in an SMS or a receipt
                assert path in ("/v1/disputes", "/v1/hazards", "/v1/sms/inbound", "/v1/sms/dlr"), (name, method, path)
            if method != "GET":
                assert "viewer" not in (granted or ()), (name, method, path)


def test_the_table_has_a_column_per_role_and_a_row_per_route() -> None:
    text = roles.roles_markdown()
    assert "| POST | `/v1/ratings` | ✓ | ✓ | ✓ |  |  |  |  |" in text
    for role in roles.ROLE_ORDER:
        assert f"`{role}`" in text
