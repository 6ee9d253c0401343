//! Entry points for the fuzz targets (`service/fuzz`): the parts of the service that read
//! bytes from strangers and are not in `hypha-proto` or `hypha-ipc`. Not a stable API.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use hypha_ipc::api::{ApiError, ErrorCode, Resolved};

use crate::dns::{self, DnsCounters, Resolve};
use crate::socks;

/// Runs a future that never waits (its input is all in memory) to completion.
fn run<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("an in-memory future waited"),
    }
}

/// Knows one name, `alice.hypha`; every other name is unknown.
struct OneName;

impl Resolve for OneName {
    async fn resolve(&self, name: &str) -> Result<Resolved, ApiError> {
        if name == "alice.hypha" {
            Ok(Resolved {
                node_id: "00".repeat(32),
                address: "200::1".into(),
                name: Some("alice".into()),
                reachable: true,
            })
        } else {
            Err(ApiError::new(ErrorCode::NotFound, "unknown name"))
        }
    }
}

/// Feeds `bytes` to the SOCKS5 greeting and request parser as one client's stream, and
/// returns what the proxy wrote back to it.
pub fn socks_handshake(bytes: &[u8]) -> Vec<u8> {
    let mut written = Vec::new();
    let _ = run(socks::handshake(&mut tokio::io::join(bytes, &mut written)));
    written
}

/// Answers `bytes` as one datagram to the `.hypha` DNS responder; checks that any answer
/// parses back as a DNS response.
pub fn dns_query(bytes: &[u8]) -> Option<Vec<u8>> {
    let counters = DnsCounters::default();
    let answer = run(dns::answer(bytes, &OneName, &counters));
    if let Some(a) = &answer {
        assert!(
            hickory_proto::op::Message::from_vec(a).is_ok(),
            "the responder wrote a response it cannot parse"
        );
    }
    answer
}
