"""TokenRepository and NonceRepository (vtn/db/repos/tokens.py, nonces.py)."""

from __future__ import annotations

from datetime import timedelta

from vtn.db.uow import Sessions, UnitOfWork

from .conftest import T0


async def test_a_token_is_found_by_its_hash_and_revoked_once(sessions: Sessions) -> None:
    async with UnitOfWork(sessions) as uow:
        await uow.tokens.add("a" * 64, "customer", "owner", "site-1", T0, T0 + timedelta(days=1))
        await uow.tokens.add("b" * 64, "operator", None, None, T0, None)
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        owner = await uow.tokens.by_hash("a" * 64)
        assert owner is not None
        assert (owner.role, owner.name, owner.site_id) == ("customer", "owner", "site-1")
        assert (owner.created_at, owner.expires_at, owner.revoked_at) == (T0, T0 + timedelta(days=1), None)
        assert await uow.tokens.by_hash("c" * 64) is None
        assert [t.role for t in await uow.tokens.all()] == ["customer", "operator"]  # by id
        assert await uow.tokens.revoke(owner.id, T0 + timedelta(hours=1))
        assert not await uow.tokens.revoke(owner.id, T0 + timedelta(hours=2))  # keeps the first time
        revoked = await uow.tokens.get(owner.id)
        assert revoked is not None and revoked.revoked_at == T0 + timedelta(hours=1)
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        assert await uow.tokens.revoke_by_hash("b" * 64, T0)
        assert not await uow.tokens.revoke_by_hash("b" * 64, T0)
        assert not await uow.tokens.revoke_by_hash("c" * 64, T0)
        assert await uow.tokens.get(999) is None


async def test_a_nonce_is_claimed_once_and_old_ones_are_pruned(sessions: Sessions) -> None:
    async with UnitOfWork(sessions) as uow:
        assert await uow.nonces.claim("n-old", "ven-1", T0 - timedelta(minutes=5), T0)
        assert await uow.nonces.claim("n-new", None, T0, T0)
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        assert not await uow.nonces.claim("n-new", "ven-2", T0, T0)  # a replay
        assert await uow.nonces.prune(T0 - timedelta(minutes=1)) == 1
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        assert await uow.nonces.claim("n-old", "ven-1", T0, T0)  # forgotten: claimable again
        assert not await uow.nonces.claim("n-new", None, T0, T0)
