"""Typed environment settings, composed from small mixins; `os.environ` is read here and nowhere else."""

from __future__ import annotations

import os
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from shared.models.tables import DEFAULT_SHARD_SIZE


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")


class Observability(_Settings):
    stage: str = Field(default="dev", alias="STAGE")
    service_name: str = Field(default="p4p", alias="POWERTOOLS_SERVICE_NAME")
    metrics_namespace: str = Field(default="P4P", alias="POWERTOOLS_METRICS_NAMESPACE")
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")


class Buckets(_Settings):
    landing_bucket: str = Field(alias="LANDING_BUCKET")
    curated_bucket: str = Field(alias="CURATED_BUCKET")
    reports_bucket: str = Field(alias="REPORTS_BUCKET")


class Tables(_Settings):
    gaps_table: str = Field(alias="GAPS_TABLE")
    ledger_table: str = Field(alias="LEDGER_TABLE")
    registry_table: str = Field(alias="REGISTRY_TABLE")


class Sharding(_Settings):
    shard_size: int = Field(default=DEFAULT_SHARD_SIZE, alias="SHARD_SIZE", gt=0)


class IngestSettings(Observability, Buckets, Tables):
    """What the ingest function needs."""


class RunSettings(Observability, Buckets, Tables, Sharding):
    """What every payment-run step needs."""


SettingsT = TypeVar("SettingsT", bound=_Settings)


def load_settings(model: type[SettingsT]) -> SettingsT:
    """Build a settings model from the process environment."""
    return model.model_validate(dict(os.environ))
