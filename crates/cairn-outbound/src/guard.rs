//! Which addresses a request made on a tenant's behalf may reach.
//!
//! Every address is classified; only [`Class::Public`] is reachable by default. The
//! operator's `outbound_allow_private` lifts the guard for [`Class::Internal`] addresses
//! (receivers and providers inside their own network), never for [`Class::Never`] ones,
//! which are no server's address. IPv6 forms that embed an IPv4 address (mapped,
//! translated, compatible, NAT64, 6to4) are judged by the address they embed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What an address is, for the guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Reachable on the internet: allowed.
    Public,
    /// Inside some network — loopback, private, link-local, shared, reserved for
    /// documentation or benchmarks, or this host's own: refused unless the operator allows
    /// private addresses. The name says which.
    Internal(&'static str),
    /// Not a server's address at all (unspecified, multicast, broadcast): always refused.
    Never(&'static str),
}

/// An IPv4 network and its prefix length.
struct Net4(u32, u8, &'static str);

impl Net4 {
    fn contains(&self, ip: Ipv4Addr) -> bool {
        let mask = if self.1 == 0 { 0 } else { u32::MAX << (32 - self.1) };
        u32::from(ip) & mask == self.0 & mask
    }
}

const fn v4(a: u8, b: u8, c: u8, d: u8) -> u32 {
    u32::from_be_bytes([a, b, c, d])
}

/// IANA's special-purpose IPv4 registry, less what is globally reachable (RFC 6890 and
/// successors), plus the ranges that are no server's.
const INTERNAL_V4: &[Net4] = &[
    Net4(v4(0, 0, 0, 0), 8, "this network"),
    Net4(v4(10, 0, 0, 0), 8, "private"),
    Net4(v4(100, 64, 0, 0), 10, "shared address space (carrier-grade NAT)"),
    Net4(v4(127, 0, 0, 0), 8, "loopback"),
    Net4(v4(169, 254, 0, 0), 16, "link-local"),
    Net4(v4(172, 16, 0, 0), 12, "private"),
    Net4(v4(192, 0, 0, 0), 24, "IETF protocol assignments"),
    Net4(v4(192, 0, 2, 0), 24, "documentation"),
    Net4(v4(192, 88, 99, 0), 24, "6to4 relay anycast"),
    Net4(v4(192, 168, 0, 0), 16, "private"),
    Net4(v4(198, 18, 0, 0), 15, "benchmarking"),
    Net4(v4(198, 51, 100, 0), 24, "documentation"),
    Net4(v4(203, 0, 113, 0), 24, "documentation"),
    Net4(v4(240, 0, 0, 0), 4, "reserved"),
];

/// The class of an IPv4 address.
pub fn classify_v4(ip: Ipv4Addr) -> Class {
    if ip.is_unspecified() {
        return Class::Never("unspecified");
    }
    if ip.is_broadcast() {
        return Class::Never("broadcast");
    }
    if ip.is_multicast() {
        return Class::Never("multicast");
    }
    match INTERNAL_V4.iter().find(|n| n.contains(ip)) {
        Some(n) => Class::Internal(n.2),
        None => Class::Public,
    }
}

/// The IPv4 address in the last 32 bits of an IPv6 address.
fn low_v4(ip: Ipv6Addr) -> Ipv4Addr {
    let o = ip.octets();
    Ipv4Addr::new(o[12], o[13], o[14], o[15])
}

/// An embedded address's class, with the embedding named when it is refused.
fn embedded(class: Class, form: &'static str) -> Class {
    match class {
        Class::Public => Class::Public,
        Class::Internal(_) => Class::Internal(form),
        Class::Never(_) => Class::Never(form),
    }
}

/// The class of an IPv6 address.
pub fn classify_v6(ip: Ipv6Addr) -> Class {
    let s = ip.segments();
    let prefix = |bits: u32| -> u128 { u128::from(ip) >> (128 - bits) };
    if ip.is_unspecified() {
        return Class::Never("unspecified");
    }
    if ip.is_loopback() {
        return Class::Internal("loopback");
    }
    if s[0] & 0xff00 == 0xff00 {
        return Class::Never("multicast");
    }
    // ::ffff:a.b.c.d (IPv4-mapped) and ::ffff:0:a.b.c.d (IPv4-translated, RFC 2765).
    if s[..5] == [0; 5] && s[5] == 0xffff {
        return embedded(classify_v4(low_v4(ip)), "IPv4-mapped");
    }
    if s[..4] == [0, 0, 0, 0] && s[4] == 0xffff && s[5] == 0 {
        return embedded(classify_v4(low_v4(ip)), "IPv4-translated");
    }
    // ::a.b.c.d (IPv4-compatible, deprecated by RFC 4291): no server uses it.
    if prefix(96) == 0 {
        return Class::Internal("IPv4-compatible");
    }
    // 64:ff9b::/96, the NAT64 well-known prefix: as good as the address it embeds.
    if prefix(96) == 0x0064_ff9b_0000_0000_0000_0000 {
        return embedded(classify_v4(low_v4(ip)), "NAT64");
    }
    // 6to4: 2002:AABB:CCDD::/48 embeds AA.BB.CC.DD.
    if s[0] == 0x2002 {
        let [a, b] = s[1].to_be_bytes();
        let [c, d] = s[2].to_be_bytes();
        return embedded(classify_v4(Ipv4Addr::new(a, b, c, d)), "6to4");
    }
    let internal: &[(Ipv6Addr, u32, &'static str)] = &[
        (Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48, "local-use NAT64"),
        (Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64, "discard-only"),
        // 2001::/23 holds Teredo (whose client address is hidden), benchmarking and ORCHID.
        (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23, "IETF protocol assignments"),
        (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32, "documentation"),
        (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20, "documentation"),
        (Ipv6Addr::new(0x5f00, 0, 0, 0, 0, 0, 0, 0), 16, "segment routing"),
        (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7, "unique local"),
        (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10, "link-local"),
        (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10, "site-local"),
    ];
    match internal.iter().find(|(net, bits, _)| prefix(*bits) == u128::from(*net) >> (128 - bits)) {
        Some((_, _, name)) => Class::Internal(name),
        None => Class::Public,
    }
}

/// The IPv4 address an IPv6 address carries in one of the forms judged by what they embed
/// (mapped, translated, NAT64, 6to4).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    if s[..5] == [0; 5] && s[5] == 0xffff
        || s[..4] == [0; 4] && s[4] == 0xffff && s[5] == 0
        || u128::from(ip) >> 32 == 0x0064_ff9b_0000_0000_0000_0000
    {
        return Some(low_v4(ip));
    }
    if s[0] == 0x2002 {
        let [a, b] = s[1].to_be_bytes();
        let [c, d] = s[2].to_be_bytes();
        return Some(Ipv4Addr::new(a, b, c, d));
    }
    None
}

/// The class of an address, this host's own interface addresses counting as internal —
/// in any form that embeds one of them too.
pub fn classify(ip: IpAddr, own: &[IpAddr]) -> Class {
    let class = match ip {
        IpAddr::V4(a) => classify_v4(a),
        IpAddr::V6(a) => classify_v6(a),
    };
    let carried = match ip {
        IpAddr::V6(a) => embedded_v4(a).map(IpAddr::V4),
        IpAddr::V4(_) => None,
    };
    if class == Class::Public && (own.contains(&ip) || carried.is_some_and(|v4| own.contains(&v4))) {
        return Class::Internal("this host's own address");
    }
    class
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(text: &str) -> Class {
        classify(text.parse().unwrap(), &[])
    }

    #[test]
    fn public_addresses_pass() {
        for a in ["1.1.1.1", "8.8.8.8", "140.82.112.3", "2606:4700:4700::1111", "2a00:1450:4001::200e"] {
            assert_eq!(class(a), Class::Public, "{a}");
        }
        // NAT64 and 6to4 of a public address are public.
        assert_eq!(class("64:ff9b::808:808"), Class::Public);
        assert_eq!(class("2002:808:808::1"), Class::Public);
        assert_eq!(class("::ffff:8.8.8.8"), Class::Public);
    }

    #[test]
    fn every_spelling_of_an_internal_address_is_refused() {
        let internal = [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.1.2.3",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "240.0.0.1",
            "::1",
            "::7f00:1",
            "::ffff:7f00:1",
            "::ffff:0:7f00:1",
            "::ffff:169.254.169.254",
            "64:ff9b::7f00:1",
            "64:ff9b::a00:1",
            "64:ff9b:1::1",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            "2001::1",
            "2001:db8::1",
            "3fff::1",
            "fc00::1",
            "fd00::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "feff::1",
            "100::1",
        ];
        for a in internal {
            let c = class(a);
            assert!(matches!(c, Class::Internal(_)), "{a} is {c:?}");
        }
    }

    #[test]
    fn addresses_of_no_server_are_their_own_class() {
        for a in ["0.0.0.0", "255.255.255.255", "224.0.0.1", "::", "ff02::1", "::ffff:0.0.0.0", "64:ff9b::e000:1"] {
            let c = class(a);
            assert!(matches!(c, Class::Never(_)), "{a} is {c:?}");
        }
    }

    /// Each special-purpose IPv4 range, at its first and last address, with the name the
    /// guard gives it (IANA's registry, RFC 6890 and successors).
    #[test]
    fn each_special_ipv4_range_is_named_from_its_first_to_its_last_address() {
        let ranges = [
            ("0.0.0.1", "0.255.255.255", "this network"),
            ("10.0.0.0", "10.255.255.255", "private"),
            ("100.64.0.0", "100.127.255.255", "shared address space (carrier-grade NAT)"),
            ("127.0.0.0", "127.255.255.255", "loopback"),
            ("169.254.0.0", "169.254.255.255", "link-local"),
            ("172.16.0.0", "172.31.255.255", "private"),
            ("192.0.0.0", "192.0.0.255", "IETF protocol assignments"),
            ("192.0.2.0", "192.0.2.255", "documentation"),
            ("192.88.99.0", "192.88.99.255", "6to4 relay anycast"),
            ("192.168.0.0", "192.168.255.255", "private"),
            ("198.18.0.0", "198.19.255.255", "benchmarking"),
            ("198.51.100.0", "198.51.100.255", "documentation"),
            ("203.0.113.0", "203.0.113.255", "documentation"),
            ("240.0.0.0", "255.255.255.254", "reserved"),
        ];
        for (first, last, name) in ranges {
            assert_eq!(class(first), Class::Internal(name), "{first}");
            assert_eq!(class(last), Class::Internal(name), "{last}");
        }
    }

    /// The addresses just outside each range are public: no range is wider than IANA's.
    #[test]
    fn the_neighbours_of_each_ipv4_range_are_public() {
        for a in [
            "1.0.0.0",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "191.255.255.255",
            "192.0.1.0",
            "192.0.3.0",
            "192.88.98.255",
            "192.88.100.0",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "198.51.99.255",
            "198.51.101.0",
            "203.0.112.255",
            "203.0.114.0",
            "223.255.255.255",
        ] {
            assert_eq!(class(a), Class::Public, "{a}");
        }
    }

    #[test]
    fn multicast_broadcast_and_unspecified_ipv4_are_never_reached() {
        assert_eq!(class("0.0.0.0"), Class::Never("unspecified"));
        assert_eq!(class("255.255.255.255"), Class::Never("broadcast"));
        for a in ["224.0.0.0", "232.1.2.3", "239.255.255.255"] {
            assert_eq!(class(a), Class::Never("multicast"), "{a}");
        }
    }

    /// Each special-purpose IPv6 range, at both ends, and the address just past it.
    #[test]
    fn each_special_ipv6_range_is_named_and_ends_where_it_should() {
        let ranges = [
            ("64:ff9b:1::", "64:ff9b:1:ffff:ffff:ffff:ffff:ffff", "64:ff9b:2::", "local-use NAT64"),
            ("100::", "100::ffff:ffff:ffff:ffff", "100:0:0:1::", "discard-only"),
            ("2001::", "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", "2001:200::", "IETF protocol assignments"),
            ("2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db9::", "documentation"),
            ("3fff::", "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", "3fff:1000::", "documentation"),
            ("5f00::", "5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "5f01::", "segment routing"),
            (
                "fc00::",
                "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                "unique local",
            ),
            (
                "fe80::",
                "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                "fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                "link-local",
            ),
            ("fec0::", "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2600::", "site-local"),
        ];
        for (first, last, outside, name) in ranges {
            assert_eq!(class(first), Class::Internal(name), "{first}");
            assert_eq!(class(last), Class::Internal(name), "{last}");
            assert_eq!(class(outside), Class::Public, "{outside}, past {name}");
        }
        assert_eq!(class("::1"), Class::Internal("loopback"));
        assert_eq!(class("::"), Class::Never("unspecified"));
        for a in ["ff00::", "ff02::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"] {
            assert_eq!(class(a), Class::Never("multicast"), "{a}");
        }
    }

    /// An IPv6 form that carries an IPv4 address is judged by that address, and a refusal
    /// names the form; the deprecated IPv4-compatible form is refused whatever it carries.
    #[test]
    fn embedded_ipv4_forms_are_judged_by_what_they_carry() {
        let forms = [
            ("::ffff:10.0.0.1", "::ffff:8.8.8.8", "::ffff:224.0.0.1", "IPv4-mapped"),
            ("::ffff:0:10.0.0.1", "::ffff:0:8.8.8.8", "::ffff:0:224.0.0.1", "IPv4-translated"),
            ("64:ff9b::10.0.0.1", "64:ff9b::8.8.8.8", "64:ff9b::255.255.255.255", "NAT64"),
            ("2002:a00:1::", "2002:808:808::", "2002:e000:1::", "6to4"),
        ];
        for (internal, public, never, form) in forms {
            assert_eq!(class(internal), Class::Internal(form), "{internal}");
            assert_eq!(class(public), Class::Public, "{public}");
            assert_eq!(class(never), Class::Never(form), "{never}");
        }
        // 6to4 takes its address from bits 16 to 48, whatever follows.
        assert_eq!(class("2002:7f00:1:ffff:1:2:3:4"), Class::Internal("6to4"));
        for a in ["::10.0.0.1", "::8.8.8.8", "::0.0.0.2"] {
            assert_eq!(class(a), Class::Internal("IPv4-compatible"), "{a}");
        }
    }

    #[test]
    fn this_hosts_own_addresses_are_internal() {
        let own: IpAddr = "203.0.114.5".parse().unwrap();
        assert_eq!(classify(own, &[]), Class::Public);
        assert_eq!(classify(own, &[own]), Class::Internal("this host's own address"));
        for form in ["::ffff:203.0.114.5", "::ffff:0:cb00:7205", "64:ff9b::cb00:7205", "2002:cb00:7205::1"] {
            assert_eq!(classify(form.parse().unwrap(), &[own]), Class::Internal("this host's own address"), "{form}");
        }
        // An own IPv6 address too; another address of its network stays public.
        let own6: IpAddr = "2a00:1450:4001::5".parse().unwrap();
        assert_eq!(classify(own6, &[own, own6]), Class::Internal("this host's own address"));
        assert_eq!(classify("2a00:1450:4001::6".parse().unwrap(), &[own, own6]), Class::Public);
        // An address already refused keeps its own name.
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(classify(lo, &[lo]), Class::Internal("loopback"));
    }
}
