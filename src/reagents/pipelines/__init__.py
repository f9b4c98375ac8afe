"""The runtime: `Pipeline` declares sources, agents and sinks; the rest runs them.

``pipeline`` (declaring, looking, publishing) → ``lifecycle`` (run, drain, stop) →
``bus`` (routing, acks, dead letters) → ``router`` (indexed subscriptions) and
``runner`` (one agent's queue, workers and retries; ``pacing`` its rate limit;
``deliveries`` what it works on) → ``flows`` (an agent's operator chain, on a
``clock``: loop or event time), ``flow_control`` (in-flight watermarks) and
``stats``; ``requests`` is request/response over the bus. Imports sources, sinks,
operators, policies and the contracts; patterns and views sit above.
"""
