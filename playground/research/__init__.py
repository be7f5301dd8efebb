"""Research mode: sweeps from study files, blinded rating sessions, statistics."""
