"""The one Logger/Tracer/Metrics set. Log with keyword arguments and never with member data."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()
