"""The products a member may hold with a plan (`data/plan/products.json`), validated at load: the list an
eligibility row's `product` is checked against."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

PRODUCTS_FILE = Path(__file__).parent / "data" / "plan" / "products.json"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ProductDefinition(_Frozen):
    """One product: the code files carry and the name people read."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    name: str = Field(min_length=1, max_length=200)


class Products(_Frozen):
    """Every product the plan's eligibility files may name."""

    note: str = ""
    products: tuple[ProductDefinition, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Products:
        codes = [p.code for p in self.products]
        if len(set(codes)) != len(codes):
            raise ValueError("each product code is listed once")
        return self

    @property
    def codes(self) -> frozenset[str]:
        """The product codes."""
        return frozenset(p.code for p in self.products)


@lru_cache(maxsize=4)
def load_products(path: Path = PRODUCTS_FILE) -> Products:
    """The product list at `path` (default: the packaged one), validated."""
    return Products.model_validate(json.loads(path.read_text(encoding="utf-8")))
