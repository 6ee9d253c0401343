//! A DNS responder for the `.hypha` zone: `alice.hypha` and `<node id>.hypha` answer AAAA
//! with the node's overlay address. It is authoritative for the zone and nothing else (other
//! names get REFUSED), so it can sit behind a split-DNS resolver (`resolvectl dns hypha0
//! 127.0.0.1:5380; resolvectl domain hypha0 '~hypha'`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::AAAA;
use hickory_proto::rr::{RData, Record, RecordType};
use tokio::net::UdpSocket;

use hypha_ipc::api::{ApiError, Resolved};

use crate::reach::Reach;

/// Name lookup for the responder: the service through [`Reach`], or a stand-in in the fuzz
/// target.
pub(crate) trait Resolve {
    /// Resolves a name in the `.hypha` zone (without the trailing dot).
    async fn resolve(&self, name: &str) -> Result<Resolved, ApiError>;
}

impl Resolve for Reach {
    async fn resolve(&self, name: &str) -> Result<Resolved, ApiError> {
        Reach::resolve(self, name).await
    }
}

/// Answers may be cached this long, seconds (names move rarely; routes are not in DNS).
const TTL: u32 = 60;

/// What the responder did.
#[derive(Debug, Default)]
pub struct DnsCounters {
    /// Queries answered with an address.
    pub answered: AtomicU64,
    /// Queries for names in the zone that nobody holds.
    pub nxdomain: AtomicU64,
    /// Queries outside the zone.
    pub refused: AtomicU64,
    /// Datagrams that were not DNS queries.
    pub malformed: AtomicU64,
}

/// Answers queries on `socket` until it fails.
pub async fn serve(socket: UdpSocket, reach: Reach, counters: Arc<DnsCounters>) {
    let mut buf = vec![0u8; 4096];
    loop {
        let (n, from) = match socket.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!("dns recv: {e}");
                continue;
            }
        };
        if let Some(resp) = answer(&buf[..n], &reach, &counters).await
            && let Err(e) = socket.send_to(&resp, from).await
        {
            tracing::debug!("dns send to {from}: {e}");
        }
    }
}

/// The response to one datagram (none: not worth answering).
pub(crate) async fn answer(
    packet: &[u8],
    reach: &impl Resolve,
    counters: &DnsCounters,
) -> Option<Vec<u8>> {
    let Ok(q) = Message::from_vec(packet) else {
        counters.malformed.fetch_add(1, Relaxed);
        return None;
    };
    let m = &q.metadata;
    if m.message_type != MessageType::Query {
        counters.malformed.fetch_add(1, Relaxed);
        return None;
    }
    let mut r = Message::new(m.id, MessageType::Response, m.op_code);
    r.metadata.recursion_desired = m.recursion_desired;
    r.metadata.recursion_available = false;
    r.add_queries(q.queries.iter().cloned());
    let code = match (m.op_code, q.queries.as_slice()) {
        (OpCode::Query, [query]) => {
            let name = query.name().to_ascii().to_ascii_lowercase();
            let name = name.trim_end_matches('.');
            if name != "hypha" && !name.ends_with(".hypha") {
                counters.refused.fetch_add(1, Relaxed);
                ResponseCode::Refused
            } else {
                r.metadata.authoritative = true;
                match reach.resolve(name).await {
                    Ok(res) => {
                        if matches!(query.query_type(), RecordType::AAAA | RecordType::ANY)
                            && let Ok(addr) = res.address.parse()
                        {
                            r.add_answer(Record::from_rdata(
                                query.name().clone(),
                                TTL,
                                RData::AAAA(AAAA(addr)),
                            ));
                        }
                        // Other types for an existing name: NOERROR with no data.
                        counters.answered.fetch_add(1, Relaxed);
                        ResponseCode::NoError
                    }
                    Err(_) => {
                        counters.nxdomain.fetch_add(1, Relaxed);
                        ResponseCode::NXDomain
                    }
                }
            }
        }
        _ => {
            counters.malformed.fetch_add(1, Relaxed);
            ResponseCode::FormErr
        }
    };
    r.metadata.response_code = code;
    r.to_vec().ok()
}

/// Binds the responder's socket (an error names the address).
pub async fn bind(addr: SocketAddr) -> anyhow::Result<UdpSocket> {
    use anyhow::Context;
    UdpSocket::bind(addr)
        .await
        .with_context(|| format!("DNS responder on {addr}"))
}
