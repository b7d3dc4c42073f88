"""Static analysis of a rule folder: the exact checker behind `triage check`.

The rooms, in the order the checker works: `findings` (what is reported, and loader
errors turned into findings), `space` (each input's finite cells: numbers split at
the rows' cut points, enumerations by value, strings as null / a literal / another
string), `explore` (three-valued evaluation of rows over partial cells, pruning the
enumeration), `decisions` (dead rows, joint coverage, gaps, overlaps), `limits`
(durable_rules' hard limits), `categories` (model labels against the rules), `examples`
(a cell as an example ticket), `describe` (conditions as text, shared with `explain`),
and `checker`, which runs them all on one folder.
"""
from __future__ import annotations

from triage.analysis.checker import check_folder
from triage.analysis.findings import Finding, Report

__all__ = ["check_folder", "Finding", "Report"]
