"""The graph engine: workflow formats, validation, planning, caching and execution. Never imports torch."""
