"""Outbound targets a caller chose (webhook URLs): public internet addresses only, unless an operator allows more.

A URL a client hands us must not make the service reach inside its own network (SSRF), so:

1. Only `http` and `https` URLs with a host are accepted.
2. The host is resolved (DNS; an IP literal is itself) and *every* address it resolves to is checked: loopback,
   link-local, private (RFC 1918, ULA `fc00::/7`), shared/CGNAT `100.64.0.0/10`, multicast, unspecified,
   reserved, otherwise not globally routable, and cloud-metadata addresses (`169.254.169.254`,
   `fd00:ec2::254`, ...) are refused. IPv6 forms that carry an IPv4 address (`::ffff:a.b.c.d`, `::a.b.c.d`,
   NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are judged by that IPv4 address too.
3. An operator allow-list lets chosen internal targets through: CIDRs or single addresses (an address passes
   when it lies in one), or host names (exact, case-insensitive; every address of an allowed name passes).
4. `OutboundPolicy.resolve` returns the checked addresses, so the caller connects to exactly those (a second
   DNS answer, as in DNS rebinding, never reaches a socket): check at submit time and again at send time.

A refusal is a `TargetRefused` (an `InputError`: 422 naming the field). Its message never says what a host
name resolved to, nor tells a name that does not resolve from one that resolves inside: both would let a
caller map internal DNS.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

from common.errors import InputError

__all__ = ["OutboundPolicy", "Target", "TargetRefused", "parse_allow", "refusal"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Instance-metadata and host-agent endpoints of the big clouds (AWS, GCP, Azure, Alibaba, Oracle).
_METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "fd00:ec2::254", "168.63.129.16", "100.100.100.200", "192.0.0.192")
)
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_SCHEMES = {"http": 80, "https": 443}
_RULES = (
    "only public internet addresses are webhook targets (loopback, private, link-local, shared, multicast, "
    "unspecified, reserved and cloud-metadata addresses are refused; operators allow internal targets with "
    "NOTESTUDIO_WEBHOOK_ALLOW)"
)

Resolver = Callable[..., list[tuple[Any, ...]]]


class TargetRefused(InputError):
    """A URL that is no allowed outbound target. `reason` is what failed: `scheme`, `host`, `unresolved`, or
    the kind of address (`loopback`, `private`, ...); `unresolved` may pass later (DNS), the others will not."""

    def __init__(self, message: str, param: str | None, reason: str) -> None:
        super().__init__(message, param)
        self.reason = reason


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):  # `::` and `::1` are no IPv4
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _kind(address: IPAddress) -> str | None:
    if address in _METADATA:
        return "cloud-metadata"
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if isinstance(address, ipaddress.IPv4Address) and address in _SHARED:
        return "shared (CGNAT)"
    if address.is_reserved:
        return "reserved"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "non-routable"
    return None


def refusal(address: IPAddress | str) -> str | None:
    """Why `address` is no public target (`loopback`, `private`, `cloud-metadata`, ...), or None when it is one.

    An IPv6 address carrying an IPv4 one (`::ffff:127.0.0.1`, 6to4, NAT64) is judged by the IPv4 address.
    """
    address = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        address = ipaddress.IPv6Address(str(address).split("%", 1)[0])
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        if address.ipv4_mapped is not None or address in _NAT64:
            return _kind(embedded)  # these *are* the IPv4 address on the wire
        return _kind(embedded) or _kind(address)
    return _kind(address)


def parse_allow(entries: Iterable[str]) -> tuple[tuple[IPNetwork, ...], frozenset[str]]:
    """Split allow-list entries into networks (`10.0.0.0/8`, `127.0.0.1`, `fd00::/8`) and host names.

    Raises:
        ValueError: naming an entry that is neither a network, an address nor a host name.
    """
    networks: list[IPNetwork] = []
    hosts: set[str] = set()
    for raw in entries:
        entry = raw.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            continue
        except ValueError:
            pass
        host = _ascii_host(entry)
        if host is None or "/" in entry or ":" in entry:
            raise ValueError(f"webhook_allow entry {raw!r} is neither a CIDR, an IP address nor a host name")
        hosts.add(host)
    return tuple(networks), frozenset(hosts)


def _ascii_host(host: str) -> str | None:
    """Lower-case ASCII (IDNA) form of a host name, without a trailing dot; None when it is no host name."""
    try:
        ascii_host = host.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    labels = ascii_host.split(".")
    if not ascii_host or any(not label or len(label) > 63 for label in labels):
        return None
    if not all(c.isalnum() or c in "-_" for label in labels for c in label):
        return None
    return ascii_host


@dataclass(frozen=True)
class Target:
    """A checked URL: connect only to `addresses`, telling the server `host_header` (and `host` for TLS SNI)."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]
    host_header: str

    def url_for(self, address: str) -> str:
        """`url` with its host replaced by one of the checked `addresses` (the port, path and query kept)."""
        parts = urlsplit(self.url)
        userinfo = parts.netloc.rpartition("@")[0]
        literal = f"[{address}]" if ":" in address else address
        netloc = (f"{userinfo}@" if userinfo else "") + f"{literal}:{self.port}"
        return SplitResult(parts.scheme, netloc, parts.path, parts.query, "").geturl()


class OutboundPolicy:
    """Which URLs the service may send to: public addresses, plus what `allow` lets through (see the module doc).

    Args:
        allow: CIDRs, addresses or host names an operator lets through (e.g. `["10.20.0.0/16", "hooks.corp"]`).
        resolver: `socket.getaddrinfo`-compatible; tests pass a fake one to play DNS rebinding.

    Raises:
        ValueError: an `allow` entry that is neither a network, an address nor a host name.
    """

    def __init__(self, allow: Iterable[str] = (), resolver: Resolver | None = None) -> None:
        self.networks, self.hosts = parse_allow(allow)
        self._resolver = resolver or socket.getaddrinfo

    def allows(self, host: str, address: str) -> bool:
        """True when `address` (of `host`) is public, or the allow-list names the host or covers the address."""
        if host in self.hosts:
            return True
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        forms = [ip] + ([ip.ipv4_mapped] if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else [])
        if any(form in network for form in forms for network in self.networks if form.version == network.version):
            return True
        return refusal(ip) is None

    def resolve(self, url: str, param: str = "webhook_url") -> Target:
        """Check `url` and resolve its host; every address must be allowed (see the module doc).

        Raises:
            TargetRefused: a scheme other than http/https, no host, a host that does not resolve, or an address
                that is not allowed; the message names `param` and, for host names, never the addresses.
        """
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _SCHEMES:
            raise TargetRefused(f"{param}: the scheme must be http or https, got {scheme or 'none'!r}", param, "scheme")
        try:
            port = parts.port or _SCHEMES[scheme]
        except ValueError:
            raise TargetRefused(f"{param}: the port is not a number in 1-65535", param, "host") from None
        literal = _literal(parts.hostname or "")
        host = str(literal) if literal is not None else _ascii_host(parts.hostname or "")
        if not host:
            raise TargetRefused(f"{param}: the URL has no valid host", param, "host")
        addresses = [host] if literal is not None else self._lookup(host, port)
        if not addresses:
            raise TargetRefused(f"{param}: {host!r} must resolve to allowed addresses; {_RULES}", param, "unresolved")
        refused = [a for a in addresses if not self.allows(host, a)]
        if refused:
            kind = refusal(refused[0]) or "non-routable"
            if literal is not None:
                raise TargetRefused(f"{param}: {host} is a {kind} address; {_RULES}", param, kind)
            raise TargetRefused(f"{param}: {host!r} must resolve to allowed addresses; {_RULES}", param, kind)
        shown = f"[{host}]" if literal is not None and literal.version == 6 else host
        default = parts.port is None or parts.port == _SCHEMES[scheme]
        return Target(url, scheme, host, port, tuple(addresses), shown if default else f"{shown}:{port}")

    def _lookup(self, host: str, port: int) -> list[str]:
        try:
            infos = self._resolver(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):  # socket.gaierror is an OSError
            return []
        found: list[str] = []
        for family, *_, sockaddr in infos:
            if family in (socket.AF_INET, socket.AF_INET6) and sockaddr[0] not in found:
                found.append(str(sockaddr[0]))
        return found


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None
