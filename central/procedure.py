"""A case's states at the hub and the only moves between them: one table.

Every change of ``Application.status`` goes through ``move`` (a clerk's action: a refusal the
clerk reads) or ``moved`` (a point's record: a move the table does not allow changes nothing, so
a late or repeated record never stalls the point's sync). ``tests/weblayer/test_state_machine.py``
checks that every action a page or the API offers is an action here and that every record kind
has a handler (central/ingest.py ``HANDLERS``, edge_node/link.py ``DOWNLINK``).

Within "accepted" a case runs its stages (central/stages.py): the stage index moves, the state
does not, until the last stage concludes it.
"""

from __future__ import annotations

from weblayer.errors import Conflict

# a case's states as clerks, operators and the point read them (pages, refusals)
STATES = {
    "received": "待受理",
    "supplement_requested": "待补正",
    "accepted": "已受理",
    "not_accepted": "不予受理",
    "approved": "已批准",
    "denied": "不予批准",
    "delivered": "已送达",
    "dispatched": "已寄出",
    "revoked": "已撤销",
}
OPEN = ("received", "accepted", "supplement_requested")  # a decision is still to come

# action -> (the states it may be taken in, the state it leads to). Who may take it, and when
# within the stages, is approval.py's and stages.py's to check; what follows is only this.
ACTIONS: dict[str, tuple[frozenset[str], str]] = {
    "accept": (frozenset({"received"}), "accepted"),  # 受理, by the accepting side
    "deem_accept": (frozenset({"received"}), "accepted"),  # 视为受理: the pre-review ran out (central/clocks.py)
    "not_accept": (frozenset({"received"}), "not_accepted"),  # 不予受理, with the reason
    "request_supplement": (frozenset({"received"}), "supplement_requested"),  # 补正, the complete list at once
    "provide_supplement": (frozenset({"supplement_requested"}), "received"),  # the point supplied it: back to pre-review
    "pass_part": (frozenset({"received", "accepted"}), "accepted"),  # a department's or a stage's part; more to come
    "approve": (frozenset({"received", "accepted"}), "approved"),  # the last part approved (当场受理并办结 from received)
    "deny": (frozenset({"received", "accepted"}), "denied"),  # any part denied, with the reason
    "pick_up": (frozenset({"approved", "denied"}), "delivered"),  # 统一窗口出件
    "dispatch": (frozenset({"approved", "denied"}), "dispatched"),  # 邮寄送达
    "hand_over_notice": (frozenset({"not_accepted"}), "not_accepted"),  # the notice why not, handed over: the outcome stays
    # a special procedure stops the clock and restarts it (central/suspensions.py): the state stays
    "suspend": (frozenset({"accepted"}), "accepted"),
    "resume": (frozenset({"accepted"}), "accepted"),
    # 告知承诺制: a commitment found false at the post-check revokes the approval (central/commitments.py)
    "revoke": (frozenset({"approved", "delivered", "dispatched"}), "revoked"),
}
# what a decision's word is as an action
DECISION_ACTIONS = {"approved": "approve", "denied": "deny", "not_accepted": "not_accept"}


def allowed(status: str, action: str) -> bool:
    return status in ACTIONS[action][0]


def move(status: str, action: str, refusal: str) -> str:
    """The state ``action`` leads to from ``status``; Conflict naming the state when it may not
    be taken there (``refusal``: what cannot be done, e.g. "不能受理")."""
    if not allowed(status, action):
        raise Conflict(f"这个办件当前状态（{STATES.get(status, status)}）{refusal}")
    return ACTIONS[action][1]


def moved(status: str, action: str) -> str:
    """The state after a point's record: ``status`` unchanged where the table has no such move."""
    return ACTIONS[action][1] if allowed(status, action) else status
