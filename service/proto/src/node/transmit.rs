//! What leaves a node: datagrams to send, and datagrams built whose seals are still to be
//! made (on whichever thread the owner chooses).

use std::net::SocketAddr;

use super::links;
use crate::crypto::PendingSeal;

/// Where a datagram came from or goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Remote {
    /// A UDP endpoint.
    Udp(SocketAddr),
    /// A stream connection (TCP), numbered by the caller.
    Stream(u64),
}

impl core::fmt::Display for Remote {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Remote::Udp(a) => write!(f, "udp://{a}"),
            Remote::Stream(n) => write!(f, "stream#{n}"),
        }
    }
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Destination.
    pub remote: Remote,
    /// Bytes.
    pub payload: Vec<u8>,
    /// Send with this IP TTL / hop limit instead of the default (NAT primers).
    pub ttl: Option<u8>,
}

/// A datagram built but not yet sealed: its AEAD seals, most of a data packet's cost, are
/// made by [`Unsealed::seal`], which the caller may run on any thread (see
/// [`super::Node::poll_unsealed`]). The result is the same whenever and wherever it runs.
pub struct Unsealed {
    pub(super) transmit: Transmit,
    /// End to end, made first: the routed packet inside a data frame.
    pub(super) e2e: Option<PendingSeal>,
    pub(super) link: LinkSeal,
}

/// The link's part of an [`Unsealed`] datagram.
pub(super) enum LinkSeal {
    /// None (handshakes, primers).
    None,
    /// A link frame sealed whole.
    Frame(PendingSeal),
    /// A data frame: only its routed header is encrypted (see `links::seal_data_frame`).
    Data {
        key: std::sync::Arc<crate::crypto::Cipher>,
        remote_index: u32,
        counter: u64,
    },
}

impl Unsealed {
    pub(super) fn ready(transmit: Transmit) -> Self {
        Unsealed {
            transmit,
            e2e: None,
            link: LinkSeal::None,
        }
    }

    /// Bytes its seals will encrypt: what it is worth handing to another thread.
    pub fn seal_len(&self) -> usize {
        let buf = &self.transmit.payload;
        match (&self.e2e, &self.link) {
            (Some(e), _) => e.len(buf),
            (None, LinkSeal::Frame(f)) => f.len(buf),
            _ => 0,
        }
    }

    /// Makes the seals: the datagram as it goes on the wire.
    pub fn seal(mut self) -> Transmit {
        let buf = &mut self.transmit.payload;
        if let Some(e) = &self.e2e {
            e.apply(buf);
        }
        match &self.link {
            LinkSeal::None => {}
            LinkSeal::Frame(f) => f.apply(buf),
            LinkSeal::Data {
                key,
                remote_index,
                counter,
            } => links::seal_data_frame(key, *remote_index, *counter, buf),
        }
        self.transmit
    }
}
