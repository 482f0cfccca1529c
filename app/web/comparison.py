"""Two runs side by side: the rules the compare API and the pages share.

The reading of a switchover-ack on/off pair is the engine's (app.engine.compare): one rule in
one place, so the CLI, the API and the compare page say the same.
"""

from __future__ import annotations

from app.engine.compare import difference, scenario_with_ack
from app.engine.scenario import LIMITS, Scenario
from app.engine.trace import Summary

ACK_LABEL_CHARS = len(" [switchover-ack off]")


def ack_pair(scenario: Scenario) -> list[Scenario]:
    """[on, off]: the engine's own rule (app.engine.compare.scenario_with_ack) for both sides.

    The engine appends " [switchover-ack on/off]" to the title; a title already near the
    200-character limit is shortened first so that a valid scenario stays valid.
    """
    room = LIMITS["title_chars"] - ACK_LABEL_CHARS
    if len(scenario.title) > room:
        scenario = scenario.model_copy(update={"title": scenario.title[:room]})
    return [scenario_with_ack(scenario, True), scenario_with_ack(scenario, False)]


def ack_sentence(a: Summary, b: Summary) -> str:
    """The engine's one-sentence reading of an on/off pair (it only looks at the summaries)."""
    return str(difference(a, b)["sentence"])
