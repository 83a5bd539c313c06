"""Renderers: engine values (plans, status, audit) -> text, markdown, json, csv."""
