"""Rule tests: `*.test.yaml` files beside the rules, run through the `Triage` object.

`spec` holds the file format (pydantic models, also the JSON Schema editors use);
`runner` loads the files, runs each case, and measures which rows the cases reach.
The CLI (`triage test`) and the pytest plugin are thin users of `runner`.
"""
from __future__ import annotations
