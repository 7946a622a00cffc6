"""Public event contracts: versioned pydantic models, one subject each (see docs/events.md)."""
