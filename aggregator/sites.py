"""A household's site as the customer API addresses it: by site_id, seen only by its own customer.

Every `/sites/{site_id}` use case starts here. `own_site` is the only site the caller may see
(a customer token's site; None for an operator): any other site is NotFound, exactly like a site
that does not exist, so a customer cannot learn which sites exist.
"""

from __future__ import annotations

from aggregator.errors import NotFound
from aggregator.records import VenRecord
from aggregator.uow import UnitOfWork


def check_visible(site_id: str, own_site: str | None) -> None:
    """NotFound unless the caller may see `site_id` (own_site None: any site)."""
    if own_site is not None and own_site != site_id:
        raise NotFound("site", site_id)


async def site_ven(uow: UnitOfWork, site_id: str, own_site: str | None) -> VenRecord:
    """The VEN serving the site (its registered VEN, else its newest); NotFound when the caller
    may not see the site or no VEN serves it. Call inside an entered unit of work."""
    check_visible(site_id, own_site)
    vens = await uow.vens.of_site(site_id)
    if not vens:
        raise NotFound("site", site_id)
    return next((v for v in vens if v.registration_id is not None), vens[0])
