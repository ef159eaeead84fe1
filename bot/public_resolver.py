"""Name resolution for fetching residents' media: a host that resolves to a private,
loopback, link-local or otherwise non-public address is refused before any connection, and
the connection goes to the very addresses that were checked (no second lookup that a DNS
answer could change in between)."""

from __future__ import annotations

import errno
import ipaddress
import socket

from aiohttp.abc import AbstractResolver, ResolveResult


class PrivateAddressError(OSError):
    def __init__(self, host: str) -> None:
        # With an errno, aiohttp's connection error shows the reason (its strerror).
        super().__init__(errno.EACCES, f"{host} resolves to a non-public address")


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone id is no part of it
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback
    return ip.is_global and not ip.is_multicast


class PublicOnlyResolver(AbstractResolver):
    """Wraps a resolver; any non-public address in the answer refuses the whole host (a
    media host that also points inward is not one to trust)."""

    def __init__(self, inner: AbstractResolver) -> None:
        self._inner = inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        private = [r["host"] for r in results if not is_public(r["host"])]
        if private:
            raise PrivateAddressError(host)
        return results

    async def close(self) -> None:
        await self._inner.close()
