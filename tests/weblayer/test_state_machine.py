"""The case's state machine is one table (central/procedure.py): every action a page or the API
offers on a case is an action of that table, every button that posts one names it, and every
record kind either side can receive has a handler (central/ingest.py, edge_node/link.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from litestar import Litestar

from central import procedure
from central.ingest import HANDLERS
from edge_node.link import DOWNLINK
from sync_protocol import APPLICATION_RECEIVED, RECORD_SPECS

ROOT = Path(__file__).parents[2]
CASE_PATH = re.compile(r"\{application_id")


def case_actions(app: Litestar) -> dict[str, tuple[str, ...]]:
    """path -> the state machine actions its POST handler declares, for every POST on a case."""
    out: dict[str, tuple[str, ...]] = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if "POST" in handler.http_methods and CASE_PATH.search(route.path):
                assert "actions" in handler.opt, f"POST {route.path} acts on a case but names no action of central/procedure.py"
                out[route.path] = tuple(handler.opt["actions"])
    return out


@pytest.mark.parametrize("side", ["hub", "node"])
def test_every_action_offered_on_a_case_is_a_transition_of_the_table(side, hub_client, node_client):
    app = (hub_client if side == "hub" else node_client).app
    offered = case_actions(app)
    assert len(offered) >= 6
    for path, actions in offered.items():
        assert set(actions) <= set(procedure.ACTIONS), f"{path}: {set(actions) - set(procedure.ACTIONS)} is not in the table"
    # the buttons on the case pages post to those routes, with decisions the table knows
    templates = {"hub": ["central/web/templates/case.html"], "node": ["edge_node/web/templates/case.html", "edge_node/web/templates/review.html"]}[
        side
    ]
    for template in templates:
        text = (ROOT / template).read_text(encoding="utf-8")
        for form in re.findall(r'<form method="post" action="([^"]*\{\{[^"]+)"', text):  # the forms on this case (its id in the path)
            tail = form.split("}}", 1)[-1]  # after "{{ app.id }}" or the like
            matches = [p for p in offered if re.sub(r"\{[^}]+\}", "", p).endswith(re.sub(r"\{\{[^}]+\}\}", "", tail))]
            assert matches, f"{template}: the form posting to {form} reaches no declared case action"
        for value in re.findall(r'name="decision" value="([a-z_]+)"', text):
            assert procedure.DECISION_ACTIONS.get(value, value) in procedure.ACTIONS, f"{template}: decision button {value!r}"


def test_every_record_kind_has_a_handler():
    up = {k for k, spec in RECORD_SPECS.items() if spec.direction == "up"}
    down = {k for k, spec in RECORD_SPECS.items() if spec.direction == "down"}
    assert up - {APPLICATION_RECEIVED} == set(HANDLERS)  # application.received: applied in bulk, first
    assert down == set(DOWNLINK)


def test_a_clerks_move_the_table_does_not_allow_is_refused_in_chinese_and_a_points_changes_nothing():
    from weblayer.errors import Conflict

    assert procedure.move("received", "accept", "不能受理") == "accepted"
    with pytest.raises(Conflict, match="当前状态（已批准）不能受理"):
        procedure.move("approved", "accept", "不能受理")
    assert procedure.moved("received", "pick_up") == "received"  # a late or odd record from a point: nothing moves
    assert procedure.moved("approved", "pick_up") == "delivered"
    assert set(procedure.STATES) == {s for states, to in procedure.ACTIONS.values() for s in (*states, to)}
