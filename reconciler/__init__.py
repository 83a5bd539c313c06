"""aep-export-reconciler: Adobe Experience Platform exports as code."""

__version__ = "0.1.0"
