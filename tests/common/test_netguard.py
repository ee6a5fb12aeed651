"""The SSRF guard for caller-chosen URLs: every address kind refused, IPv4 carried in IPv6 seen through, every
resolved address checked, the allow-list, and refusals that do not tell internal DNS apart."""

from __future__ import annotations

import socket

import pytest

from common.errors import InputError
from common.netguard import OutboundPolicy, TargetRefused, parse_allow, refusal


def fake_dns(table: dict[str, list[str]]):
    """A `getaddrinfo` answering from `table` (names not in it do not resolve), counting lookups per name."""
    calls: dict[str, int] = {}

    def getaddrinfo(host, port, *args, **kwargs):
        calls[host] = calls.get(host, 0) + 1
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answers = table[host]
        answer = answers[min(calls[host], len(answers)) - 1]  # the n-th lookup gets the n-th answer (then the last)
        addresses = answer.split(",")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses
        ]

    getaddrinfo.calls = calls
    return getaddrinfo


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.254", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.169.254", "cloud-metadata"),
        ("fd00:ec2::254", "cloud-metadata"),
        ("168.63.129.16", "cloud-metadata"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.0.1", "shared (CGNAT)"),
        ("100.127.255.254", "shared (CGNAT)"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("2001:db8::1", "private"),  # documentation prefix
        # IPv4 carried in IPv6: judged by the IPv4 address
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "cloud-metadata"),
        ("::ffff:100.64.0.1", "shared (CGNAT)"),
        ("::127.0.0.1", "loopback"),  # IPv4-compatible (deprecated)
        ("64:ff9b::a9fe:a9fe", "cloud-metadata"),  # NAT64 of 169.254.169.254
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("2002:a00:1::1", "private"),  # 6to4 of 10.0.0.1
    ],
)
def test_refused_addresses(address, kind):
    assert refusal(address) == kind


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "8.8.8.8", "2001:4860:4860::8888", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_public_addresses_pass(address):
    assert refusal(address) is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:8080/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("http://10.0.0.7/hook", "private"),
        ("http://172.20.1.1/hook", "private"),
        ("https://192.168.0.10/hook", "private"),
        ("http://169.254.169.254/latest/meta-data/", "cloud-metadata"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "cloud-metadata"),
        ("http://0.0.0.0:8080/", "unspecified"),
        ("ftp://93.184.216.34/hook", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("gopher://93.184.216.34:70/", "scheme"),
        ("http:///no-host", "host"),
    ],
)
def test_refused_urls_are_422_naming_the_field(url, reason):
    with pytest.raises(TargetRefused) as refused:
        OutboundPolicy().resolve(url, "webhook_url")
    assert refused.value.reason == reason and refused.value.param == "webhook_url"
    assert isinstance(refused.value, InputError) and refused.value.status == 422
    assert refused.value.message.startswith("webhook_url: ")


def test_host_names_are_resolved_and_every_address_checked():
    dns = fake_dns(
        {
            "hooks.example": ["93.184.216.34,2606:2800:220:1:248:1893:25c8:1946"],
            "half.example": ["93.184.216.34,10.0.0.5"],  # one public, one private address: refused
            "inside.example": ["10.0.0.5"],
        }
    )
    policy = OutboundPolicy(resolver=dns)
    target = policy.resolve("https://Hooks.Example:8443/cb?x=1")
    assert target.addresses == ("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946")
    assert (target.host, target.port, target.host_header) == ("hooks.example", 8443, "hooks.example:8443")
    assert target.url_for("93.184.216.34") == "https://93.184.216.34:8443/cb?x=1"
    assert target.url_for("2606:2800:220:1:248:1893:25c8:1946").startswith("https://[2606:2800:220:1:")
    with pytest.raises(TargetRefused) as half:
        policy.resolve("http://half.example/")
    with pytest.raises(TargetRefused) as inside:
        policy.resolve("http://inside.example/")
    with pytest.raises(TargetRefused) as nowhere:
        policy.resolve("http://nowhere.example/")
    assert (half.value.reason, inside.value.reason, nowhere.value.reason) == ("private", "private", "unresolved")
    # what a host name resolved to is never said, and "resolves inside" reads like "does not resolve"
    assert "10.0.0.5" not in half.value.message + inside.value.message
    assert inside.value.message.replace("inside", "nowhere") == nowhere.value.message


def test_the_real_resolver_refuses_names_and_numeric_forms_of_loopback():
    for url in ("http://localhost:8080/", "http://2130706433/", "http://0x7f.0.0.1/", "http://127.1/"):
        with pytest.raises(TargetRefused):
            OutboundPolicy().resolve(url)


def test_the_allow_list_lets_chosen_internal_targets_through():
    dns = fake_dns({"hooks.corp": ["10.9.8.7"], "other.corp": ["10.9.8.7"], "db.corp": ["10.1.0.3"]})
    policy = OutboundPolicy(["10.9.0.0/16", "127.0.0.1", "db.corp"], resolver=dns)
    assert policy.resolve("http://hooks.corp/").addresses == ("10.9.8.7",)
    assert policy.resolve("http://other.corp/").addresses == ("10.9.8.7",)  # the network, whatever the name
    assert policy.resolve("http://db.corp/").addresses == ("10.1.0.3",)  # the name, whatever its address
    assert policy.resolve("http://127.0.0.1:9/").addresses == ("127.0.0.1",)
    assert policy.resolve("http://[::ffff:127.0.0.1]:9/").addresses == ("::ffff:7f00:1",)
    for url in ("http://127.0.0.2/", "http://10.10.0.1/", "http://169.254.169.254/"):
        with pytest.raises(TargetRefused):
            policy.resolve(url)


def test_bad_allow_entries_are_named():
    networks, hosts = parse_allow([" 10.0.0.0/8", "fd00::/8", "::1", "Hooks.Corp.", ""])
    assert [str(n) for n in networks] == ["10.0.0.0/8", "fd00::/8", "::1/128"] and hosts == {"hooks.corp"}
    for bad in ("10.0.0.0/33", "hooks.corp:8080", "http://hooks.corp", "a..b"):
        with pytest.raises(ValueError, match="webhook_allow entry"):
            parse_allow([bad])
