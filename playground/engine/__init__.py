"""The engine: models and their loading, the tiny offline builders, generation, guidance, schedulers."""
