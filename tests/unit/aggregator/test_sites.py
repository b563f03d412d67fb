"""aggregator/sites.py: a site is seen by its own customer and the operator, by nobody else."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fakes import FakeUnitOfWork
from samples import REGISTERED_VEN, T0

from aggregator.errors import NotFound
from aggregator.sites import site_ven

UNREGISTERED_NEWER = replace(
    REGISTERED_VEN, ven_id="ven-2", ven_name="home 1 again", created_at=T0.replace(year=2031),
    registration_id=None, registered_at=None,
)  # fmt: skip


async def test_the_operator_and_the_sites_customer_get_its_registered_ven() -> None:
    uow = FakeUnitOfWork(vens=[REGISTERED_VEN, UNREGISTERED_NEWER])
    for own_site in (None, "site-1"):
        async with uow:
            assert (await site_ven(uow, "site-1", own_site)).ven_id == "ven-1"


async def test_without_a_registered_ven_the_newest_serves_the_site() -> None:
    uow = FakeUnitOfWork(vens=[replace(REGISTERED_VEN, registration_id=None), UNREGISTERED_NEWER])
    async with uow:
        assert (await site_ven(uow, "site-1", None)).ven_id == "ven-2"


@pytest.mark.parametrize(("site_id", "own_site"), [("site-1", "site-2"), ("site-1", ""), ("site-9", None)])
async def test_another_customers_site_is_not_found_like_a_missing_one(
    site_id: str, own_site: str | None
) -> None:
    uow = FakeUnitOfWork(vens=[REGISTERED_VEN])
    async with uow:
        with pytest.raises(NotFound, match=repr(site_id)):
            await site_ven(uow, site_id, own_site)
