"""A refused query parameter is a typed error of the port: callers read the field and the rule
(the API's 400 names the field), on every backend alike."""

from __future__ import annotations

from typing import Any

import pytest

from agent_trace.store.port import Filters, InvalidQuery, SessionQuery


def test_a_bad_sort_names_its_field_and_rule(store: Any) -> None:
    with pytest.raises(InvalidQuery) as caught:
        store.list_sessions(SessionQuery(sort="-size"))
    assert caught.value.field == "sort"
    assert caught.value.rule.startswith("must be one of ")
    assert str(caught.value).startswith("sort='-size': must be one of ")


def test_a_cursor_the_api_never_returned_is_refused(store: Any) -> None:
    with pytest.raises(InvalidQuery) as caught:
        store.list_sessions(SessionQuery(cursor="not-base64!"))
    assert (caught.value.field, caught.value.rule) == ("cursor", "not a cursor this API returned")
    assert str(caught.value) == "cursor: not a cursor this API returned"


def test_daily_totals_name_the_dimension_a_rollup_lacks(store: Any) -> None:
    with pytest.raises(InvalidQuery) as caught:
        store.daily_totals("activity", Filters(), [(0, 0)], group_by=("model",))
    assert caught.value.field == "group_by"
    assert str(caught.value) == "group_by=model: activity can be grouped by project, user_id, agent"


def test_it_is_still_a_value_error() -> None:
    assert issubclass(InvalidQuery, ValueError)
