"""Grid units (警务网格 / 责任区): `parsing` turns the uploaded GeoJSON into units, `index` answers
"whose zone is this?" and "whose post is nearest?"."""

from dispatch.domain.grid.index import Grid
from dispatch.domain.grid.parsing import (
    DUTY_DESK,
    MIN_OFFICERS,
    STATUSES,
    GridParse,
    GridProblem,
    GridUnit,
    UnitStatus,
    parse_grid,
)

__all__ = ["DUTY_DESK", "MIN_OFFICERS", "STATUSES", "Grid", "GridParse", "GridProblem", "GridUnit", "UnitStatus",
           "parse_grid"]
