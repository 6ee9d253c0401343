//! Invite links: `hypha://join/<node id>?ep=<endpoint>,<endpoint>[&exp=<unix seconds>]`.
//!
//! What someone needs to link to a node across networks without reading addresses: who it is
//! and where it listens (UDP). The link is not signed: a tampered endpoint only leads to
//! another node, which the joiner sees (the link's node id is what a contact is made of), and
//! the expiry is the inviter's wish, kept by honest joiners.

use std::net::SocketAddr;

use hypha_proto::identity::NodeId;

/// Most endpoints a link carries.
pub const MAX_ENDPOINTS: usize = 8;
const PREFIX: &str = "hypha://join/";

/// What an invite link says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteLink {
    /// The inviting node.
    pub node: NodeId,
    /// Where it listens for UDP links.
    pub endpoints: Vec<SocketAddr>,
    /// Not to be used after this (seconds since the Unix epoch).
    pub expires_s: Option<u64>,
}

impl InviteLink {
    /// The link's text.
    pub fn to_link(&self) -> String {
        let eps: Vec<String> = self.endpoints.iter().map(|e| e.to_string()).collect();
        let mut s = format!("{PREFIX}{}?ep={}", self.node.to_hex(), eps.join(","));
        if let Some(e) = self.expires_s {
            s.push_str(&format!("&exp={e}"));
        }
        s
    }

    /// Reads a link (surrounding whitespace and `<…>` as mail clients add them are ignored).
    pub fn parse(text: &str) -> Result<InviteLink, String> {
        let t = text.trim().trim_start_matches('<').trim_end_matches('>');
        let rest = t
            .strip_prefix(PREFIX)
            .ok_or_else(|| format!("not an invite link (it starts with {PREFIX})"))?;
        let (id, query) = rest.split_once('?').unwrap_or((rest, ""));
        let node = NodeId::from_hex(id).map_err(|e| format!("node id: {e}"))?;
        let (mut endpoints, mut expires_s) = (Vec::new(), None);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("ep", list)) => {
                    for e in list.split(',').filter(|e| !e.is_empty()) {
                        let ep: SocketAddr = e
                            .parse()
                            .map_err(|_| format!("endpoint {e:?} is not ip:port"))?;
                        if ep.port() == 0 || ep.ip().is_unspecified() || ep.ip().is_multicast() {
                            return Err(format!("endpoint {e} cannot be dialled"));
                        }
                        endpoints.push(ep);
                    }
                }
                Some(("exp", v)) => {
                    expires_s = Some(v.parse().map_err(|_| format!("expiry {v:?}"))?);
                }
                // Later versions may add fields: ignore what this one does not know.
                _ => {}
            }
        }
        if endpoints.is_empty() {
            return Err("the link has no endpoints".into());
        }
        if endpoints.len() > MAX_ENDPOINTS {
            return Err(format!("more than {MAX_ENDPOINTS} endpoints"));
        }
        Ok(InviteLink {
            node,
            endpoints,
            expires_s,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bad_links() {
        let node = hypha_proto::identity::Identity::from_seed([4; 32]).node_id();
        let link = InviteLink {
            node,
            endpoints: vec![
                "198.51.100.4:9651".parse().unwrap(),
                "[2001:db8::7]:9651".parse().unwrap(),
            ],
            expires_s: Some(1_800_000_000),
        };
        let text = link.to_link();
        assert!(text.len() < 160, "{text}");
        assert_eq!(InviteLink::parse(&text).unwrap(), link);
        assert_eq!(
            InviteLink::parse(&format!(" <{text}&v=2>\n")).unwrap(),
            link
        );
        let id = node.to_hex();
        for bad in [
            "https://example.org/".to_string(),
            format!("hypha://join/{}?ep=1.2.3.4:9651", &id[..60]),
            format!("hypha://join/{id}"),
            format!("hypha://join/{id}?ep=1.2.3.4"),
            format!("hypha://join/{id}?ep=0.0.0.0:9651"),
            format!("hypha://join/{id}?ep=1.2.3.4:9651&exp=soon"),
            format!("hypha://join/{id}?ep={}", ["1.2.3.4:1"; 9].join(",")),
        ] {
            assert!(InviteLink::parse(&bad).is_err(), "{bad}");
        }
    }
}
