"""The community officer's own work (社区警务), pure: standard library and shapely only.

`visits` the household visit, `hazards` the hazard from report to verified rectification,
`keypersons` the key-person register and its reviews, `scorecard` the monthly sheet and its rules
(`scorecard.toml`), `grid` community's copy of dispatch's grid, `events` what the aggregates record.
"""
