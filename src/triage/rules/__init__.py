"""Rule files: YAML spec -> IR -> durable_rules engine (and a pure-Python interpreter).

The rooms, in the order a rule file travels: `yamlio` (YAML with line numbers),
`spec` (pydantic models of the file format, also the JSON Schema), `domains` (typed
fact domains), `ir` (the intermediate representation and condition parsing),
`loader` (a folder to a validated `RuleSet`), `durable_engine` and `interpreter`
(the two evaluators of the IR), `ruleset` (evaluation of all decisions in order) and
`cellcache` (each decision's outcome per input cell, decided once on durable_rules).
"""
