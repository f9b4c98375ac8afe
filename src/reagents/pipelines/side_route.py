"""`SideRoute`: how the events of a flow's side input (`with_latest_from`) reach that flow.

The bus files one in its agent router next to the agent's own subscription; a matched
event goes into the agent's flow as a joined event, not into its queue.
"""

from __future__ import annotations

from reagents.pipelines.deliveries import Delivery
from reagents.pipelines.flows import SideInput
from reagents.pipelines.runner import AgentRunner

__all__ = ["SideRoute"]


class SideRoute:
    """Routes the events of a flow's side input (`with_latest_from`) into that flow."""

    __slots__ = ("agent", "id", "runner", "side", "stats")

    def __init__(self, runner: AgentRunner, side: SideInput) -> None:
        self.runner = runner
        self.side = side
        self.agent = runner.agent
        self.id = runner.id
        self.stats = runner.stats

    def submit(self, delivery: Delivery) -> None:
        """Push ``delivery``'s event into the flow's side input."""
        self.side.stage.enter(delivery, side=True)
        self.side.stage.push_side(self.side, delivery)
