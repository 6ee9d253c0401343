//! A fact: a signed, short-lived statement about a node, gossiped between neighbours.
//!
//! ```text
//! subject (32) | attr u8 | issued_ms u64 | ttl_s u16 | value_len u8 | value | signer (32) |
//! signature (64)
//! ```
//! The signature covers [`SIGNING_CONTEXT`] and every byte before it. Attribute 1 is a UDP
//! endpoint where the subject can be reached; its value is `family u8 (4|6) | ip | port u16`.
//! Attribute 2 is a name the subject claims: `since_ms u64 | name` (see [`crate::names`]).
//! Who may sign what (the trust model) is decided by the receiver, see [`crate::facts`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{Reader, WireError};
use crate::identity::{Identity, NodeId, SIGNATURE_LEN};

/// Domain separation for fact signatures.
pub const SIGNING_CONTEXT: &[u8] = b"hypha fact v1";
/// Attribute: a UDP endpoint of the subject.
pub const ATTR_UDP_ENDPOINT: u8 = 1;
/// Attribute: a name the subject claims (self-signed only); value `since_ms u64 | name`.
pub const ATTR_NAME: u8 = 2;
/// Longest value.
pub const MAX_VALUE: usize = 64;

/// A fact.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FactRepr {
    /// Who the fact is about.
    pub subject: NodeId,
    /// What it says (an `ATTR_*`).
    pub attr: u8,
    /// When it was signed, ms since the Unix epoch.
    pub issued_ms: u64,
    /// How long it holds, seconds.
    pub ttl_s: u16,
    /// The statement.
    pub value: Vec<u8>,
    /// Who signed it.
    pub signer: NodeId,
    /// ed25519 signature by `signer`.
    pub signature: [u8; SIGNATURE_LEN],
}

/// Encodes a socket address as a fact value.
pub fn endpoint_value(a: &SocketAddr) -> Vec<u8> {
    let mut v = Vec::with_capacity(19);
    match a.ip() {
        IpAddr::V4(ip) => {
            v.push(4);
            v.extend_from_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            v.push(6);
            v.extend_from_slice(&ip.octets());
        }
    }
    v.extend_from_slice(&a.port().to_be_bytes());
    v
}

/// Encodes a name claim: the name and when the subject first claimed it (which settles
/// conflicts, see [`crate::names`]).
pub fn name_value(name: &str, since_ms: u64) -> Vec<u8> {
    let mut v = since_ms.to_be_bytes().to_vec();
    v.extend_from_slice(name.as_bytes());
    v
}

/// Decodes [`name_value`]; `None` unless the name is valid.
pub fn parse_name(v: &[u8]) -> Option<(String, u64)> {
    let (since, name) = v.split_at_checked(8)?;
    let name = std::str::from_utf8(name).ok()?;
    crate::names::check(name).ok()?;
    Some((name.to_string(), u64::from_be_bytes(since.try_into().ok()?)))
}

/// Decodes [`endpoint_value`].
pub fn parse_endpoint(v: &[u8]) -> Option<SocketAddr> {
    let (ip, rest): (IpAddr, &[u8]) = match v.first()? {
        4 if v.len() == 7 => (
            Ipv4Addr::from(<[u8; 4]>::try_from(&v[1..5]).ok()?).into(),
            &v[5..],
        ),
        6 if v.len() == 19 => (
            Ipv6Addr::from(<[u8; 16]>::try_from(&v[1..17]).ok()?).into(),
            &v[17..],
        ),
        _ => return None,
    };
    let port = u16::from_be_bytes(rest.try_into().ok()?);
    (port != 0).then(|| SocketAddr::new(ip, port))
}

impl FactRepr {
    /// Builds and signs a fact.
    pub fn signed(
        signer: &Identity,
        subject: NodeId,
        attr: u8,
        value: Vec<u8>,
        issued_ms: u64,
        ttl_s: u16,
    ) -> Self {
        let mut f = FactRepr {
            subject,
            attr,
            issued_ms,
            ttl_s,
            value,
            signer: signer.node_id(),
            signature: [0; SIGNATURE_LEN],
        };
        f.signature = signer.sign(&f.signed_bytes());
        f
    }

    fn body(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.subject.as_bytes());
        out.push(self.attr);
        out.extend_from_slice(&self.issued_ms.to_be_bytes());
        out.extend_from_slice(&self.ttl_s.to_be_bytes());
        out.push(self.value.len() as u8);
        out.extend_from_slice(&self.value);
        out.extend_from_slice(self.signer.as_bytes());
    }

    fn signed_bytes(&self) -> Vec<u8> {
        let mut m = SIGNING_CONTEXT.to_vec();
        self.body(&mut m);
        m
    }

    /// True when the signer's signature is valid.
    pub fn verify(&self) -> bool {
        self.signer.verify(&self.signed_bytes(), &self.signature)
    }

    /// When it stops holding, ms since the Unix epoch.
    pub fn expires_ms(&self) -> u64 {
        self.issued_ms.saturating_add(self.ttl_s as u64 * 1000)
    }

    /// Parses one fact from the front of `r`.
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let subject = NodeId::from_bytes(r.array()?);
        let attr = r.u8()?;
        let issued_ms = r.u64()?;
        let ttl_s = r.u16()?;
        let n = r.u8()? as usize;
        if n > MAX_VALUE {
            return Err(WireError::Malformed("fact value too long"));
        }
        let value = r.take(n)?.to_vec();
        Ok(FactRepr {
            subject,
            attr,
            issued_ms,
            ttl_s,
            value,
            signer: NodeId::from_bytes(r.array()?),
            signature: r.array()?,
        })
    }

    /// Appends the fact.
    pub fn emit(&self, out: &mut Vec<u8>) {
        debug_assert!(self.value.len() <= MAX_VALUE);
        self.body(out);
        out.extend_from_slice(&self.signature);
    }
}

/// Parses a list of facts (`count u8 | facts…`), as carried in a facts frame.
pub fn parse_list(buf: &[u8]) -> Result<Vec<FactRepr>, WireError> {
    let mut r = Reader::new(buf);
    let n = r.u8()? as usize;
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(FactRepr::read(&mut r)?);
    }
    r.finish()?;
    Ok(v)
}

/// Emits a list of facts (at most 255).
pub fn emit_list(facts: &[FactRepr], out: &mut Vec<u8>) {
    let n = facts.len().min(255);
    out.push(n as u8);
    for f in &facts[..n] {
        f.emit(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_verify_and_tamper() {
        let id = Identity::from_seed([4; 32]);
        let ep: SocketAddr = "[2001:db8::1]:9651".parse().unwrap();
        let f = FactRepr::signed(
            &id,
            id.node_id(),
            ATTR_UDP_ENDPOINT,
            endpoint_value(&ep),
            1_000,
            60,
        );
        assert!(f.verify());
        let mut buf = Vec::new();
        emit_list(std::slice::from_ref(&f), &mut buf);
        let got = parse_list(&buf).unwrap();
        assert_eq!(got, vec![f.clone()]);
        assert_eq!(parse_endpoint(&got[0].value), Some(ep));
        let mut bad = f.clone();
        bad.ttl_s = 61;
        assert!(!bad.verify());
        assert_eq!(
            parse_endpoint(&endpoint_value(&"10.0.0.1:5".parse().unwrap())),
            Some("10.0.0.1:5".parse().unwrap())
        );
        assert_eq!(parse_endpoint(&[4, 1, 2]), None);
    }
}
