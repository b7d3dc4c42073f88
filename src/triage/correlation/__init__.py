"""Multi-customer incidents: a stateful durable_rules ruleset over a stream of tickets.

    from triage import Triage
    from triage.correlation import Correlator

    with Correlator(Triage()) as correlator:       # the rule folder's correlation.yaml
        for ticket in tickets_in_created_at_order:
            for decision in correlator.feed(ticket):   # own decision first, then revisions
                store(decision)                        # the latest per ticket_id is final

`spec` (window, threshold, categories, keys, lateness) reads `correlation.yaml`;
`engine` holds ticket events in one durable_rules session; `correlator` turns the
neighbours the rule finds into incidents and re-decided decisions.
"""
from __future__ import annotations

from triage.correlation.correlator import Correlator
from triage.correlation.spec import CorrelationSpec, load_correlation
from triage.errors import CorrelationFileError

__all__ = ["Correlator", "CorrelationSpec", "CorrelationFileError", "load_correlation"]
