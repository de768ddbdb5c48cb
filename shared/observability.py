"""The one Logger/Tracer set. Log with keyword arguments and never with member data."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Tracer

logger = Logger()
tracer = Tracer()
