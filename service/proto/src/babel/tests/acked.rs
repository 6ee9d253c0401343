//! Acknowledged frames: resent after one RTO, given up after the last try, held for a silent
//! neighbour, and the destinations they name kept right when the table drops one.

use super::*;

#[test]
fn a_lost_triggered_update_is_sent_again_after_one_rto() {
    let mut net = Net::new(3);
    net.link(0, 1);
    net.run(Duration::from_millis(500));
    let target = net.ids[2].subnet();
    let mut dropped = 0;
    net.drop = Some(Box::new(move |from, to, body: &[u8]| {
        let carries = parse_tlvs(body).any(|t| {
            matches!(t, Ok(Tlv::Update(u))
                if u.prefix.as_subnet() == Some(target) && u.metric != INFINITY)
        });
        let hit = from == 1 && to == 0 && carries && dropped < 2;
        dropped += hit as u32;
        hit
    }));
    net.link(1, 2);
    // The first periodic dump is 16–32 s away: only a resend can bring the route this soon,
    // even with the first two copies lost (RTO 2×RTT ≥ 30 ms, doubling).
    net.run(Duration::from_millis(300));
    assert_eq!(net.path(0, 2), Some(vec![0, 1, 2]));
    assert!(
        net.nodes[1].counters.ack_retries >= 2,
        "{:?}",
        net.nodes[1].counters
    );
}

#[test]
fn an_unanswered_frame_is_given_up_after_max_tries() {
    let mut net = Net::new(2);
    net.link(0, 1);
    net.run(Duration::from_millis(500));
    // Node 0 never hears anything from 1 again but hellos keep the link (no cut): every
    // acknowledged frame 1 sends is lost.
    net.drop = Some(Box::new(|from, _to, body: &[u8]| {
        from == 1 && parse_tlvs(body).any(|t| matches!(t, Ok(Tlv::AckRequest(_))))
    }));
    net.nodes[1].bump_own_seqno(net.now);
    let own = net.ids[1].subnet();
    net.nodes[1].mark_dirty(net.now, own);
    net.run(Duration::from_secs(3));
    let c = &net.nodes[1].counters;
    assert_eq!(c.ack_retries, (acks::MAX_TRIES - 1) as u64, "{c:?}");
    assert_eq!(c.ack_give_ups, 1, "{c:?}");
    assert!(net.nodes[1].neighbours[&0].unacked.is_empty());
}

/// A neighbour heard from no more (a cut link, before the link layer notices) gets no
/// retries: its frames wait, not counted as tries, and go out once it is heard again.
#[test]
fn retries_wait_for_a_silent_neighbour() {
    let mut net = Net::new(2);
    net.link(0, 1);
    net.run(Duration::from_millis(500));
    let silent = std::rc::Rc::new(std::cell::Cell::new(true));
    let s = silent.clone();
    net.drop = Some(Box::new(move |from, _to, _body: &[u8]| {
        from == 0 && s.get()
    }));
    net.nodes[1].bump_own_seqno(net.now);
    let own = net.ids[1].subnet();
    net.nodes[1].mark_dirty(net.now, own);
    // Retries go on until 3 hellos were missed (750 ms), then wait.
    net.run(Duration::from_millis(1_000));
    let before = net.nodes[1].counters.ack_retries;
    net.run(Duration::from_secs(4));
    let c = net.nodes[1].counters.clone();
    assert_eq!(c.ack_retries, before, "{c:?}");
    assert_eq!(c.ack_give_ups, 0, "{c:?}");
    assert!(c.ack_retries_paused > 0, "{c:?}");
    assert!(!net.nodes[1].neighbours[&0].unacked.is_empty());
    silent.set(false);
    net.run(Duration::from_secs(1));
    assert!(net.nodes[1].neighbours[&0].unacked.is_empty());
    assert!(net.nodes[1].counters.ack_retries > c.ack_retries);
}

/// What is queued names destinations by their places in the table: when the table drops a
/// destination and moves another into its place, the queues follow (the one moved is still
/// sent, the one dropped no longer).
#[test]
fn queued_destinations_follow_the_table_when_it_drops_one() {
    let mut net = Net::new(4);
    net.link(0, 1);
    net.link(1, 2);
    net.link(2, 3);
    net.run(Duration::from_secs(2));
    // Node 1's frames go unacknowledged from now on, so they wait in `unacked`.
    net.drop = Some(Box::new(|_from, to, body: &[u8]| {
        to == 1 && parse_tlvs(body).any(|t| matches!(t, Ok(Tlv::Ack(_))))
    }));
    let subs: Vec<Subnet> = net.ids.iter().map(|id| id.subnet()).collect();
    let n1 = &mut net.nodes[1];
    assert_eq!(n1.table.len(), 3);
    let place = |b: &Babel, s: &Subnet| b.table.index_of(s).expect("known") as updates::Dest;
    let (p0, p3) = (place(n1, &subs[0]), place(n1, &subs[3]));
    n1.dirty = vec![p3, updates::OWN, p0];
    n1.flush(net.now);
    n1.dirty = vec![p3, updates::OWN, p0];
    n1.improved = vec![p0, p3];
    let named = |b: &Babel, ds: &[updates::Dest]| -> Vec<Subnet> {
        ds.iter().map(|&d| b.subnet_of(d)).collect()
    };
    let waiting = |b: &Babel| -> Vec<Vec<Subnet>> {
        b.neighbours
            .values()
            .map(|nb| {
                let ds: Vec<updates::Dest> =
                    nb.unacked.iter().flat_map(|u| u.dests().to_vec()).collect();
                named(b, &ds)
            })
            .collect()
    };
    let before = waiting(n1);
    assert!(before.iter().flatten().count() >= 3, "{before:?}");
    // The first destination known goes; the last one known takes its place.
    let gone = n1.table.subnet_at(0);
    let last = n1.table.subnet_at(2);
    let now_at = n1.table.retain(|s, _| *s != gone).expect("one went");
    assert_eq!(n1.table.subnet_at(0), last);
    n1.remap_queued(&now_at);
    let without =
        |list: Vec<Subnet>| -> Vec<Subnet> { list.into_iter().filter(|s| *s != gone).collect() };
    let own = n1.own_subnet;
    assert_eq!(named(n1, &n1.dirty), without(vec![subs[3], own, subs[0]]));
    assert_eq!(named(n1, &n1.improved), without(vec![subs[0], subs[3]]));
    assert_eq!(
        waiting(n1),
        before.into_iter().map(without).collect::<Vec<_>>()
    );
}
