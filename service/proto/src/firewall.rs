//! The inbound firewall for overlay traffic delivered to this host.
//!
//! Once the TUN is up, every host service bound to `[::]` would be reachable from every mesh
//! node; on a public mesh those are strangers. So packets the mesh delivers here (to the TUN
//! or the userspace stack) pass only if they answer a flow this host started, are ICMPv6 echo
//! or error messages, or the [`Policy`] allows their sender and port. Forwarding for others is
//! not filtered: it never reaches this host's services.
//!
//! Stateful the simple way: every packet this host sends into the mesh records or refreshes a
//! flow (remote address, protocol, both ports), and inbound packets of a known flow pass. The
//! flow table is bounded ([`MAX_FLOWS`]); only this host's own traffic can add to it.

use std::collections::BTreeSet;
use std::time::Duration;

use rustc_hash::FxHashMap;

use crate::identity::NodeId;
use crate::time::Timestamp;

/// Most flows tracked at once; beyond it the flow closest to expiry is forgotten.
pub const MAX_FLOWS: usize = 16_384;
/// A TCP flow is forgotten after this long without a packet either way.
const TCP_IDLE: Duration = Duration::from_secs(30 * 60);
/// The same for UDP (and other protocols with ports).
const UDP_IDLE: Duration = Duration::from_secs(180);
/// The same for an ICMPv6 echo exchange.
const ECHO_IDLE: Duration = Duration::from_secs(30);
/// How often expired flows are swept.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

const TCP: u8 = 6;
const UDP: u8 = 17;
const ICMPV6: u8 = 58;
const ECHO_REQUEST: u8 = 128;
const ECHO_REPLY: u8 = 129;

/// Whom connections to this host are accepted from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Incoming {
    /// Every mesh node (no filtering).
    Everyone,
    /// Contacts, rules and exposed ports (the default).
    #[default]
    Contacts,
    /// Nobody: only answers to this host's own connections, and ping.
    Nobody,
}

impl Incoming {
    /// `everyone`, `contacts` or `nobody`.
    pub fn parse(s: &str) -> Option<Incoming> {
        match s {
            "everyone" => Some(Incoming::Everyone),
            "contacts" => Some(Incoming::Contacts),
            "nobody" => Some(Incoming::Nobody),
            _ => None,
        }
    }

    /// The word [`Incoming::parse`] takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Incoming::Everyone => "everyone",
            Incoming::Contacts => "contacts",
            Incoming::Nobody => "nobody",
        }
    }
}

/// Transport protocol of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Proto {
    /// `tcp` or `udp`.
    pub fn parse(s: &str) -> Option<Proto> {
        match s {
            "tcp" => Some(Proto::Tcp),
            "udp" => Some(Proto::Udp),
            _ => None,
        }
    }

    /// The word [`Proto::parse`] takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }

    fn number(self) -> u8 {
        match self {
            Proto::Tcp => TCP,
            Proto::Udp => UDP,
        }
    }
}

/// "Let `node` (any node if none) reach `port` (any port if none) over `proto` (TCP and UDP
/// if none)."
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rule {
    /// The sender, or any node.
    pub node: Option<NodeId>,
    /// The local port, or any.
    pub port: Option<u16>,
    /// The protocol, or both.
    pub proto: Option<Proto>,
}

impl Rule {
    fn matches(&self, from: &NodeId, proto: u8, port: u16) -> bool {
        self.node.is_none_or(|n| n == *from)
            && self.port.is_none_or(|p| p == port)
            && self.proto.is_none_or(|p| p.number() == proto)
    }
}

/// What may come in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// The overall choice.
    pub incoming: Incoming,
    /// Trusted nodes: everything from them passes (unless `incoming` is `Nobody`).
    pub contacts: BTreeSet<NodeId>,
    /// Further openings (ignored when `incoming` is `Nobody`).
    pub rules: Vec<Rule>,
    /// TCP ports the owner exposed to the mesh: open to every node (unless `Nobody`).
    pub exposed: BTreeSet<u16>,
}

impl Policy {
    /// Whether a new connection from `from` to local `port` over `proto` is allowed.
    pub fn allows(&self, from: &NodeId, proto: u8, port: u16) -> bool {
        match self.incoming {
            Incoming::Everyone => true,
            Incoming::Nobody => false,
            Incoming::Contacts => {
                self.contacts.contains(from)
                    || (proto == TCP && self.exposed.contains(&port))
                    || self.rules.iter().any(|r| r.matches(from, proto, port))
            }
        }
    }

    /// Whether everything from `from` passes (for packets without ports).
    fn trusts(&self, from: &NodeId) -> bool {
        match self.incoming {
            Incoming::Everyone => true,
            Incoming::Nobody => false,
            Incoming::Contacts => self.contacts.contains(from),
        }
    }
}

/// What the firewall refused, and how its flow table fared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FirewallCounters {
    /// Inbound TCP packets dropped (no flow, not allowed).
    pub dropped_tcp: u64,
    /// Inbound UDP packets dropped.
    pub dropped_udp: u64,
    /// Other inbound packets dropped (ICMPv6 other than echo and errors, other protocols,
    /// fragments after the first, headers that do not parse).
    pub dropped_other: u64,
    /// Flows forgotten early because the table was full.
    pub flows_evicted: u64,
}

impl FirewallCounters {
    /// All drops.
    pub fn dropped(&self) -> u64 {
        self.dropped_tcp + self.dropped_udp + self.dropped_other
    }
}

/// (remote address, protocol, local port, remote port); echo uses its identifier as the
/// local port.
type FlowKey = ([u8; 16], u8, u16, u16);

/// The firewall: policy, flow table, counters.
#[derive(Debug, Default)]
pub struct Firewall {
    policy: Policy,
    flows: FxHashMap<FlowKey, Timestamp>,
    swept: Timestamp,
    /// Drops and evictions so far.
    pub counters: FirewallCounters,
}

/// The transport of an IPv6 packet: protocol, source port, destination port (for echo:
/// identifier twice), or `None` for packets without ports.
struct Transport {
    proto: u8,
    ports: Option<(u16, u16)>,
    icmp_type: u8,
}

fn transport(packet: &[u8]) -> Option<Transport> {
    let mut next = *packet.get(6)?;
    let mut at = 40;
    // Hop-by-hop, routing and destination options may precede the transport header; a
    // fragment header too (only the first fragment carries ports).
    for _ in 0..4 {
        match next {
            0 | 43 | 60 => {
                let len = (usize::from(*packet.get(at + 1)?) + 1) * 8;
                next = packet[at];
                at += len;
            }
            44 => {
                let offset = u16::from_be_bytes([*packet.get(at + 2)?, *packet.get(at + 3)?]) >> 3;
                if offset != 0 {
                    return Some(Transport {
                        proto: 44,
                        ports: None,
                        icmp_type: 0,
                    });
                }
                next = packet[at];
                at += 8;
            }
            _ => break,
        }
    }
    let body = packet.get(at..)?;
    let be16 = |i: usize| body.get(i..i + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    Some(match next {
        TCP | UDP => Transport {
            proto: next,
            ports: Some((be16(0)?, be16(2)?)),
            icmp_type: 0,
        },
        ICMPV6 => {
            let ty = *body.first()?;
            let id = if matches!(ty, ECHO_REQUEST | ECHO_REPLY) {
                Some(be16(4)?)
            } else {
                None
            };
            Transport {
                proto: ICMPV6,
                ports: id.map(|i| (i, i)),
                icmp_type: ty,
            }
        }
        other => Transport {
            proto: other,
            ports: None,
            icmp_type: 0,
        },
    })
}

fn idle_for(proto: u8) -> Duration {
    match proto {
        TCP => TCP_IDLE,
        ICMPV6 => ECHO_IDLE,
        _ => UDP_IDLE,
    }
}

impl Firewall {
    /// A firewall with `policy` and no flows.
    pub fn new(policy: Policy) -> Self {
        Firewall {
            policy,
            ..Default::default()
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Replaces the policy; flows already open stay open.
    pub fn set_policy(&mut self, policy: Policy) {
        self.policy = policy;
    }

    /// Flows tracked now.
    pub fn flows(&self) -> usize {
        self.flows.len()
    }

    /// Notes a packet this host sends into the mesh (an IPv6 packet of at least 40 bytes),
    /// so that the answers to it pass.
    pub fn outbound(&mut self, now: Timestamp, packet: &[u8]) {
        if self.policy.incoming == Incoming::Everyone {
            return; // nothing is filtered, so nothing needs tracking
        }
        let Some(t) = transport(packet) else { return };
        let Some((local, remote)) = t.ports else {
            return;
        };
        if t.proto == ICMPV6 && t.icmp_type != ECHO_REQUEST {
            return; // only echo requests expect an answer
        }
        let dst: [u8; 16] = packet[24..40].try_into().expect("16 bytes");
        let key = (dst, t.proto, local, remote);
        let expires = now + idle_for(t.proto);
        if let Some(e) = self.flows.get_mut(&key) {
            *e = expires;
            return;
        }
        if self.flows.len() >= MAX_FLOWS {
            self.sweep(now);
        }
        if self.flows.len() >= MAX_FLOWS
            && let Some(oldest) = self.flows.iter().min_by_key(|(_, e)| **e).map(|(k, _)| *k)
        {
            self.flows.remove(&oldest);
            self.counters.flows_evicted += 1;
        }
        self.flows.insert(key, expires);
    }

    /// Decides on a packet the mesh delivers to this host from node `from` (an IPv6 packet
    /// of at least 40 bytes whose source is `from`'s); counts what it drops.
    pub fn inbound(&mut self, now: Timestamp, from: &NodeId, packet: &[u8]) -> bool {
        if self.policy.incoming == Incoming::Everyone {
            return true;
        }
        let Some(t) = transport(packet) else {
            self.counters.dropped_other += 1;
            return false;
        };
        let pass = match (t.proto, t.ports) {
            (ICMPV6, _) if t.icmp_type == ECHO_REQUEST => true,
            // Errors (unreachable, packet too big, time exceeded, parameter problem) are
            // what path MTU discovery and failing connections depend on.
            (ICMPV6, _) if (1..=4).contains(&t.icmp_type) => true,
            (ICMPV6, Some((id, _))) if t.icmp_type == ECHO_REPLY => {
                self.known(now, packet, t.proto, id, id)
            }
            (TCP | UDP, Some((remote, local))) => {
                self.known(now, packet, t.proto, local, remote)
                    || self.policy.allows(from, t.proto, local)
            }
            _ => self.policy.trusts(from),
        };
        if !pass {
            match t.proto {
                TCP => self.counters.dropped_tcp += 1,
                UDP => self.counters.dropped_udp += 1,
                _ => self.counters.dropped_other += 1,
            }
        }
        pass
    }

    /// Whether the inbound packet belongs to a live flow (refreshing it).
    fn known(&mut self, now: Timestamp, packet: &[u8], proto: u8, local: u16, remote: u16) -> bool {
        let src: [u8; 16] = packet[8..24].try_into().expect("16 bytes");
        match self.flows.get_mut(&(src, proto, local, remote)) {
            Some(e) if *e > now => {
                *e = now + idle_for(proto);
                true
            }
            _ => false,
        }
    }

    /// Forgets expired flows (at most every few seconds; call it from the timer).
    pub fn sweep(&mut self, now: Timestamp) {
        if now.saturating_since(self.swept) < SWEEP_EVERY && self.flows.len() < MAX_FLOWS {
            return;
        }
        self.swept = now;
        self.flows.retain(|_, e| *e > now);
    }
}

#[cfg(test)]
mod tests;
