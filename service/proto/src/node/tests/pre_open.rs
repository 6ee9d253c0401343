//! Payloads opened ahead, off the node's thread (`Node::pre_open`), as the I/O loop does
//! with a received batch.

use std::time::Duration;

use super::*;

impl Mesh {
    /// What each node is sent in a round reaches it as one batch; a relay's in-place
    /// forwards go out in the next round.
    pub(super) fn deliver_batches(&mut self) {
        let n = self.nodes.len();
        let mut inbox: Vec<Vec<(usize, Vec<u8>)>> = vec![Vec::new(); n];
        loop {
            let mut moved = false;
            for i in 0..n {
                while let Some(t) = self.nodes[i].poll_transmit() {
                    moved = true;
                    self.carry(i, t.remote, t.payload, &mut inbox);
                }
            }
            if inbox.iter().all(Vec::is_empty) {
                if !moved {
                    break;
                }
                continue;
            }
            for (j, batch) in std::mem::replace(&mut inbox, vec![Vec::new(); n])
                .into_iter()
                .enumerate()
            {
                for (to, d) in self.handle_batch(j, batch) {
                    self.carry(j, to, d, &mut inbox);
                }
            }
        }
    }

    /// Datagram `d` from node `i` to `to`, unless the link is down or drops it.
    fn carry(&mut self, i: usize, to: Remote, d: Vec<u8>, inbox: &mut [Vec<(usize, Vec<u8>)>]) {
        let j = Self::index_of(to);
        if j >= self.nodes.len() {
            return;
        }
        self.sent += 1;
        let h = self.sent.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32;
        let lost = self.drop_every > 0 && h.is_multiple_of(self.drop_every);
        if self.up.contains(&(i, j)) && !lost {
            inbox[j].push((i, d));
        }
    }

    /// Node `j` takes `batch` in order; returns what it passed on in place.
    fn handle_batch(
        &mut self,
        j: usize,
        mut batch: Vec<(usize, Vec<u8>)>,
    ) -> Vec<(Remote, Vec<u8>)> {
        let node = &mut self.nodes[j];
        // All asked first, all opened next, as the loop does (workers in between).
        let ahead: Vec<Option<PreOpen>> = batch
            .iter()
            .map(|(_, d)| match self.batches {
                Batches::PreOpened => node.pre_open(d),
                _ => None,
            })
            .collect();
        let verified: Vec<Option<bool>> = ahead
            .iter()
            .zip(batch.iter_mut())
            .map(|(p, (_, d))| p.as_ref().map(|p| p.open(d)))
            .collect();
        self.opened_ahead += verified.iter().filter(|v| **v == Some(true)).count() as u64;
        let mut forwards = Vec::new();
        for (((i, mut d), v), p) in batch.into_iter().zip(verified).zip(&ahead) {
            let out = match (v, p) {
                (Some(ok), Some(p)) => node.handle_pre_opened(self.now, addr(i), &mut d, p, ok),
                _ => node.handle_datagram_in_place(self.now, addr(i), &mut d),
            };
            match out {
                Some(InPlaceOut::Packet(r)) => node.deliver_copy(&d[r]),
                Some(InPlaceOut::Forward(to)) => forwards.push((to, d)),
                None => {}
            }
        }
        forwards
    }
}

/// A chain with links rekeying every 300 ms, pinged both ways between neighbours and end to
/// end, in batches opened in place or opened ahead.
fn rekeying_chain(batches: Batches) -> (Mesh, usize) {
    let mut m = Mesh::new(3, |_| NodeConfig {
        link_rekey: LinkRekeyConfig {
            after: Duration::from_millis(300),
            packets: 1 << 40,
            reject_after: Duration::from_secs(60),
        },
        ..NodeConfig::default()
    });
    m.batches = batches;
    m.link_chain();
    let mut lost = 0;
    for _ in 0..300 {
        m.run(Duration::from_millis(10));
        for (a, b) in [(0, 1), (1, 0), (0, 2), (2, 0), (1, 2)] {
            lost += usize::from(!m.ping(a, b));
        }
    }
    (m, lost)
}

/// Opening ahead changes nothing the node does: the same packets arrive, the same counters
/// move (links rekeyed in between, so batches hold frames under retired and new keys; end to
/// end sessions start in the same batches as their first data), and the payloads were indeed
/// opened ahead.
#[test]
fn frames_opened_ahead_are_handled_as_if_opened_in_order() {
    let (plain, lost_plain) = rekeying_chain(Batches::InPlace);
    let (ahead, lost_ahead) = rekeying_chain(Batches::PreOpened);
    assert_eq!(lost_plain, 0);
    assert_eq!(lost_ahead, 0);
    assert!(
        ahead.nodes[1].counters.link_rekeys >= 10,
        "{:?}",
        ahead.nodes[1].counters
    );
    // The 1500 pings (900 between neighbours in transport frames, 600 end to end in data
    // frames) and routing's frames went ahead.
    assert!(ahead.opened_ahead > 1500, "{}", ahead.opened_ahead);
    assert_eq!(plain.opened_ahead, 0);
    for (p, a) in plain.nodes.iter().zip(&ahead.nodes) {
        assert_eq!(p.counters, a.counters);
    }
}

/// A frame whose payload was tampered with fails when opened ahead and is counted as a
/// failed frame, as in order (a neighbour's, and one from afar whose end-to-end payload was
/// altered); one replayed after it was taken is not opened ahead at all.
#[test]
fn a_tampered_or_replayed_frame_opened_ahead_is_refused() {
    let mut m = Mesh::new(2, |_| NodeConfig::default());
    m.wire(0, 1);
    m.nodes[0].add_peer(m.now, addr(1));
    m.run(Duration::from_secs(1));
    let pkt = packet(&m, 0, 1, 200);
    m.nodes[0].handle_tun(m.now, &pkt);
    let frame = m.nodes[0].poll_transmit().expect("a frame").payload;
    assert_eq!(frame[0], crate::wire::transport::TYPE_TRANSPORT);

    let mut bad = frame.clone();
    *bad.last_mut().unwrap() ^= 1;
    let p = m.nodes[1].pre_open(&bad).expect("a known key");
    let failed = m.nodes[1].counters.link_auth_failed;
    assert!(!p.open(&mut bad));
    assert_eq!(
        m.nodes[1].handle_pre_opened(m.now, addr(0), &mut bad, &p, false),
        None
    );
    assert_eq!(m.nodes[1].counters.link_auth_failed, failed + 1);

    let mut good = frame.clone();
    let p = m.nodes[1].pre_open(&good).expect("a known key");
    assert!(p.open(&mut good));
    let Some(InPlaceOut::Packet(r)) =
        m.nodes[1].handle_pre_opened(m.now, addr(0), &mut good, &p, true)
    else {
        panic!("not delivered");
    };
    assert_eq!(&good[r], &pkt[..]);

    // Taken once: the same counter again is a replay, not worth opening.
    assert!(m.nodes[1].pre_open(&frame).is_none());

    // End to end, through a relay: a data frame's payload altered on the way is refused by
    // its destination when opened ahead too; the one as sent is delivered.
    let mut m = Mesh::new(3, |_| NodeConfig::default());
    m.link_chain();
    assert!(m.ping(0, 2));
    let pkt = packet(&m, 0, 2, 300);
    let mut frames = Vec::new();
    for _ in 0..2 {
        m.nodes[0].handle_tun(m.now, &pkt);
        let mut frame = m.nodes[0].poll_transmit().expect("a frame").payload;
        assert_eq!(frame[0], crate::wire::data_frame::TYPE_DATA_FRAME);
        assert!(m.nodes[2].pre_open(&frame).is_none(), "not node 2's key");
        let out = m.nodes[1].handle_datagram_in_place(m.now, addr(0), &mut frame);
        assert_eq!(out, Some(InPlaceOut::Forward(addr(2))));
        frames.push(frame);
    }
    let (mut good, mut bad) = (frames.remove(0), frames.remove(0));
    bad[80] ^= 1;
    let p = m.nodes[2].pre_open(&bad).expect("node 2's keys");
    let failed = m.nodes[2].counters.e2e_auth_failed;
    assert!(!p.open(&mut bad));
    let out = m.nodes[2].handle_pre_opened(m.now, addr(1), &mut bad, &p, false);
    assert_eq!(out, None);
    assert_eq!(m.nodes[2].counters.e2e_auth_failed, failed + 1);
    let p = m.nodes[2].pre_open(&good).expect("node 2's keys");
    assert!(p.open(&mut good));
    let out = m.nodes[2].handle_pre_opened(m.now, addr(1), &mut good, &p, true);
    let Some(InPlaceOut::Packet(r)) = out else {
        panic!("not delivered: {out:?}");
    };
    assert_eq!(&good[r], &pkt[..]);
    // Handshakes are never opened ahead.
    assert!(
        m.nodes[1]
            .pre_open(&[crate::wire::handshake::TYPE_INIT; 100])
            .is_none()
    );
}
