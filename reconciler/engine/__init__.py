"""The reconcile engine: refresh, plan, apply (docs/engine.md)."""
