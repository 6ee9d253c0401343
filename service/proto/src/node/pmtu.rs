//! Path MTU per destination, found by probing through the mesh (in the spirit of RFC 8899's
//! datagram PLPMTUD) and enforced with packet-too-big messages to the local stack.
//!
//! The TUN MTU is an upper bound, not a promise: a path may cross a link that carries less.
//! The first packet to a destination larger than the IPv6 minimum (1280) starts probes of
//! every candidate size at once ([`candidates`]): trace probes addressed to the destination,
//! padded so that each link frame carrying one is exactly as long as a data frame carrying a
//! packet of that size. Links never fragment (the daemon sends with "don't fragment"), so a
//! probe arrives only if every link on the path carries its size, and the destination's answer
//! confirms the size. A size whose probe goes unanswered [`TRIES`] times is not carried.
//!
//! Until that is known, packets up to the largest size not yet refuted are sent (a path that
//! carries them loses nothing while it is checked); larger ones are answered with an ICMPv6
//! packet-too-big, so TCP lowers its segment size at once. A try waits three round trips of
//! the path (from the first answer; 1 s before any), at least 100 ms. Entries are forgotten
//! after [`FORGET_AFTER`], so a path that got better is found again (the kernel forgets a
//! learned path MTU after 10 minutes too).

use std::time::Duration;

use super::Node;
use crate::address::Subnet;
use crate::identity::NodeId;
use crate::time::Timestamp;

/// Every IPv6 path carries packets of this size.
pub const MIN_MTU: usize = 1280;
/// The default TUN MTU: the largest whose relayed data frames fit a 1500-byte underlay over
/// IPv6 (1500 − 40 − 8 − [`DATA_OVERHEAD`]); over IPv4 they fit 1500 and PPPoE's 1492 too.
/// Narrower paths (PPPoE under IPv6, tunnels) are found by probing and answered with
/// packet-too-big.
pub const DEFAULT_TUN_MTU: u16 = 1374;
/// Bytes a data frame adds to an IPv6 packet: link header 13, routed header 32, payload kind
/// 1, end-to-end tag 16, link tag 16.
pub const DATA_OVERHEAD: usize = 13 + 32 + 1 + 16 + 16;
/// The largest TUN MTU: its data frames still fit one UDP datagram over IPv4 (65,507 bytes of
/// payload), and a data frame's length field ([`crate::wire::data_frame::aad`]) holds them.
pub const MAX_TUN_MTU: u16 = (65_507 - DATA_OVERHEAD) as u16;
/// Probes of one size sent before the size counts as not carried.
pub const TRIES: u8 = 3;
/// When a destination's path MTU is found again from scratch.
pub const FORGET_AFTER: Duration = Duration::from_secs(600);
/// How long a try waits before any answer gave a round-trip time.
const FIRST_TIMEOUT: Duration = Duration::from_secs(1);
/// Shortest wait for a try.
const MIN_TIMEOUT: Duration = Duration::from_millis(100);
/// Destinations tracked at once; beyond, packets to new ones are sent unchecked.
const MAX_PATHS: usize = 4096;
/// Set in the id of every path MTU probe, so that its answer is never taken for a trace's.
const PMTU_ID: u64 = 1 << 63;
/// Underlay MTUs commonly met (jumbo, Ethernet, PPPoE, tunnels), tried from the largest down.
const UNDERLAY_MTUS: [usize; 8] = [9000, 1500, 1492, 1480, 1460, 1420, 1400, 1380];

/// What a node knows about the path to one destination.
#[derive(Debug, Clone)]
pub(super) struct PathMtu {
    /// A destination address in the subnet (what probes are addressed to).
    dst: [u8; 16],
    /// Largest size confirmed by an answer.
    ok: usize,
    /// Smallest size found not carried (the TUN MTU + 1 before any).
    bad: usize,
    probes: Vec<Probe>,
    /// Round-trip time of the first answer.
    rtt: Option<Duration>,
    forget_at: Timestamp,
}

#[derive(Debug, Clone, Copy)]
struct Probe {
    size: usize,
    id: u64,
    sent: Timestamp,
    tries: u8,
}

impl PathMtu {
    /// The size enforced now: the largest candidate not refuted, or the confirmed one.
    fn mtu(&self, sizes: &[usize]) -> usize {
        sizes
            .iter()
            .copied()
            .find(|&c| c < self.bad)
            .map_or(self.ok, |c| c.max(self.ok))
    }
}

/// Sizes worth probing, largest first: the TUN MTU and what fits common underlay MTUs over
/// IPv4 and IPv6, all above the minimum and at most the TUN MTU.
pub fn candidates(tun_mtu: usize) -> Vec<usize> {
    let mut v: Vec<usize> = UNDERLAY_MTUS
        .iter()
        .flat_map(|u| [u - 28 - DATA_OVERHEAD, u - 48 - DATA_OVERHEAD])
        .chain([tun_mtu])
        .filter(|&s| s > MIN_MTU && s <= tun_mtu)
        .collect();
    v.sort_unstable_by(|a, b| b.cmp(a));
    v.dedup();
    v
}

impl Node {
    /// The size above which packets to `dst` get a packet-too-big, when `len` is above it;
    /// starts probing a destination seen for the first time.
    pub(super) fn too_big(&mut self, now: Timestamp, dst: &[u8; 16], len: usize) -> Option<usize> {
        let subnet = Subnet::of(dst);
        let mtu = match self.pmtu.get(&subnet) {
            Some(p) => p.mtu(&self.pmtu_sizes),
            None => {
                if self.pmtu.len() >= MAX_PATHS || self.pmtu_sizes.is_empty() {
                    return None;
                }
                self.pmtu.insert(
                    subnet,
                    PathMtu {
                        dst: *dst,
                        ok: MIN_MTU,
                        bad: self.tun_mtu + 1,
                        probes: Vec::new(),
                        rtt: None,
                        forget_at: now + FORGET_AFTER,
                    },
                );
                for size in self.pmtu_sizes.clone() {
                    self.send_pmtu_probe(now, subnet, size, 0);
                }
                self.tun_mtu
            }
        };
        (len > mtu).then_some(mtu)
    }

    /// Sends try `tries + 1` of the probe of `size` on `subnet`'s path.
    fn send_pmtu_probe(&mut self, now: Timestamp, subnet: Subnet, size: usize, tries: u8) {
        let Some(dst) = self.pmtu.get(&subnet).map(|p| p.dst) else {
            return;
        };
        let id = self.send_padded_probe(&dst, size + DATA_OVERHEAD, PMTU_ID);
        let p = self.pmtu.get_mut(&subnet).expect("present");
        p.probes.retain(|pr| pr.size != size);
        if let Some(id) = id {
            self.counters.pmtu_probes += 1;
            p.probes.push(Probe {
                size,
                id,
                sent: now,
                tries: tries + 1,
            });
        }
    }

    /// A probe answer from `from`: true when it answers a path MTU probe (consumed here, even
    /// when it comes too late to matter).
    pub(super) fn pmtu_answer(&mut self, now: Timestamp, from: &NodeId, id: u64) -> bool {
        if id & PMTU_ID == 0 {
            return false;
        }
        let Some(p) = self.pmtu.get_mut(&from.subnet()) else {
            return true;
        };
        let Some(pr) = p.probes.iter().find(|pr| pr.id == id).copied() else {
            return true;
        };
        p.rtt.get_or_insert(now.saturating_since(pr.sent));
        p.ok = p.ok.max(pr.size);
        let ok = p.ok;
        p.probes.retain(|q| q.size > ok);
        true
    }

    /// Repeats unanswered probes, marks sizes whose tries all went unanswered as not carried,
    /// forgets old entries. Runs on the maintenance tick.
    pub(super) fn maintain_pmtu(&mut self, now: Timestamp) {
        self.pmtu.retain(|_, p| p.forget_at > now);
        let mut due: Vec<(Subnet, usize, u8)> = Vec::new();
        for (subnet, p) in &mut self.pmtu {
            let wait = p
                .rtt
                .map_or(FIRST_TIMEOUT, |r| (r * 3).clamp(MIN_TIMEOUT, FIRST_TIMEOUT));
            let before = p.mtu(&self.pmtu_sizes);
            let mut bad = p.bad;
            for pr in &p.probes {
                if now.saturating_since(pr.sent) < wait {
                    continue;
                }
                if pr.tries < TRIES {
                    due.push((*subnet, pr.size, pr.tries));
                } else {
                    bad = bad.min(pr.size);
                }
            }
            p.bad = bad;
            p.probes.retain(|pr| pr.size < bad);
            if p.mtu(&self.pmtu_sizes) < before {
                self.counters.pmtu_lowered += 1;
            }
        }
        due.retain(|(s, size, _)| self.pmtu.get(s).is_some_and(|p| *size < p.bad));
        due.sort_unstable();
        for (subnet, size, tries) in due {
            self.send_pmtu_probe(now, subnet, size, tries);
        }
    }

    /// The path MTU towards `node` as enforced now, and whether it is confirmed.
    pub fn path_mtu(&self, node: &NodeId) -> Option<(usize, bool)> {
        let p = self.pmtu.get(&node.subnet())?;
        let mtu = p.mtu(&self.pmtu_sizes);
        Some((mtu, mtu == p.ok))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_fit_common_underlays_and_stay_in_range() {
        assert_eq!(candidates(1280), Vec::<usize>::new());
        // 1500 over IPv4 and IPv6, 1492 (PPPoE), 1480 over IPv6, …, 1400 over IPv4.
        assert_eq!(
            candidates(1394),
            vec![1394, 1386, 1374, 1366, 1354, 1334, 1314, 1294]
        );
        // The default: 1500 over IPv6 is its own size.
        assert_eq!(
            candidates(DEFAULT_TUN_MTU.into()),
            vec![1374, 1366, 1354, 1334, 1314, 1294]
        );
        let big = candidates(16000);
        assert_eq!(big[0], 16000);
        assert!(big.contains(&8894) && big.contains(&1294) && big.contains(&1374));
        assert!(big.windows(2).all(|w| w[0] > w[1]));
        assert!(big.iter().all(|&s| s > MIN_MTU));
    }
}
