"""Rendering for people: statements and pages, from Jinja2 templates in one autoescaping environment."""
