//! Two buses wired together through a lossy in-memory channel.

use super::*;
use crate::identity::Identity;
use crate::wire::bus_ack::BusAckRepr;
use crate::wire::bus_chunk::BusChunkRepr;

fn ids() -> (NodeId, NodeId) {
    (
        Identity::from_seed([1; 32]).node_id(),
        Identity::from_seed([2; 32]).node_id(),
    )
}

/// Moves everything between `a` and `b` for `steps` ms, losing `loss_pct` % of the packets
/// (a fixed pseudo-random sequence, so the test is reproducible).
fn run(a: &mut Bus, b: &mut Bus, ids: (NodeId, NodeId), steps: u64, loss_pct: u64) -> Timestamp {
    run_from(Timestamp::ZERO, a, b, ids, steps, loss_pct)
}

/// [`run`] starting at `start` (to go on after a restart of one side).
fn run_from(
    start: Timestamp,
    a: &mut Bus,
    b: &mut Bus,
    ids: (NodeId, NodeId),
    steps: u64,
    loss_pct: u64,
) -> Timestamp {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut lost = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % 100 < loss_pct
    };
    let mut now = start;
    for _ in 0..steps {
        now = now + Duration::from_millis(1);
        let from_a = a.poll_transmit(now, |_| true);
        let from_b = b.poll_transmit(now, |_| true);
        // What the bus asks to be woken for lies ahead: a deadline it had just passed and not
        // acted on would wake the node again at once, and again (a spinning daemon).
        for (bus, side) in [(&*a, "a"), (&*b, "b")] {
            if let Some(t) = bus.poll_timeout() {
                assert!(t > now, "{side}: deadline {t:?} not after {now:?}");
            }
        }
        for (dst, kind, p) in from_a {
            if lost() {
                continue;
            }
            assert_eq!(dst, ids.1);
            deliver(b, now, ids.0, kind, &p);
        }
        for (dst, kind, p) in from_b {
            if lost() {
                continue;
            }
            assert_eq!(dst, ids.0);
            deliver(a, now, ids.1, kind, &p);
        }
    }
    now
}

fn deliver(bus: &mut Bus, now: Timestamp, from: NodeId, kind: PayloadKind, p: &[u8]) {
    match kind {
        PayloadKind::BusChunk => bus.on_chunk(now, from, &BusChunkRepr::parse(p).unwrap()),
        PayloadKind::BusAck => bus.on_ack(from, &BusAckRepr::parse(p).unwrap()),
        other => unreachable!("the bus sends no {other:?}"),
    }
}

fn msg(to: NodeId, len: usize) -> Outgoing {
    Outgoing {
        id: [9; 16],
        to,
        topic: "t".into(),
        reply_to: None,
        payload: (0..len).map(|i| (i * 7) as u8).collect(),
        deadline_ms: None,
    }
}

fn events(b: &mut Bus) -> Vec<BusEvent> {
    std::iter::from_fn(|| b.poll_event()).collect()
}

#[test]
fn large_message_over_a_lossy_path_arrives_once_and_intact() {
    let (ia, ib) = ids();
    let mut a = Bus::new(BusConfig::default());
    let mut b = Bus::new(BusConfig::default());
    let m = msg(ib, 512 * 1024);
    a.send(m.clone()).unwrap();
    run(&mut a, &mut b, (ia, ib), 20_000, 20);
    let got: Vec<_> = events(&mut b)
        .into_iter()
        .filter_map(|e| match e {
            BusEvent::Received(i) => Some(i),
            _ => None,
        })
        .collect();
    assert_eq!(got.len(), 1, "{:?} {:?}", a.counters, b.counters);
    assert_eq!(got[0].payload, m.payload);
    assert_eq!(got[0].from, ia);
    let ev = events(&mut a);
    assert_eq!(
        ev,
        vec![
            BusEvent::Status {
                id: m.id,
                status: MsgStatus::Sent
            },
            BusEvent::Status {
                id: m.id,
                status: MsgStatus::Delivered
            },
        ]
    );
    assert!(a.counters.chunks_resent > 0);
}

#[test]
fn resend_after_sender_restart_is_acked_not_delivered_again() {
    let (ia, ib) = ids();
    let mut a = Bus::new(BusConfig::default());
    let mut b = Bus::new(BusConfig::default());
    a.send(msg(ib, 3000)).unwrap();
    run(&mut a, &mut b, (ia, ib), 200, 0);
    assert_eq!(b.counters.received, 1);
    // The sender lost its state (say the ack was lost before it was persisted) and resends.
    let mut a2 = Bus::new(BusConfig::default());
    a2.send(msg(ib, 3000)).unwrap();
    run(&mut a2, &mut b, (ia, ib), 200, 0);
    assert_eq!(b.counters.received, 1, "delivered once");
    assert!(events(&mut a2).contains(&BusEvent::Status {
        id: [9; 16],
        status: MsgStatus::Delivered
    }));
    // A receiver that restarted remembers through the reloaded inbox.
    let mut b2 = Bus::new(BusConfig::default());
    b2.remember_completed(ia, [9; 16]);
    let mut a3 = Bus::new(BusConfig::default());
    a3.send(msg(ib, 3000)).unwrap();
    run(&mut a3, &mut b2, (ia, ib), 200, 0);
    assert_eq!(b2.counters.received, 0);
}

#[test]
fn refused_topic_fails_and_deadline_expires() {
    let (ia, ib) = ids();
    let mut a = Bus::new(BusConfig::default());
    let mut b = Bus::new(BusConfig {
        allowed_topics: Some(vec!["chat".into()]),
        ..BusConfig::default()
    });
    a.send(msg(ib, 10)).unwrap();
    run(&mut a, &mut b, (ia, ib), 100, 0);
    assert!(events(&mut a).contains(&BusEvent::Status {
        id: [9; 16],
        status: MsgStatus::Failed
    }));
    assert_eq!(b.counters.received, 0);
    let mut m = msg(ib, 10);
    m.deadline_ms = Some(1_000);
    a.send(m).unwrap();
    a.expire(999);
    assert_eq!(a.status(&[9; 16]), Some(MsgStatus::Queued));
    a.expire(1_000);
    assert_eq!(a.status(&[9; 16]), None);
    assert!(events(&mut a).contains(&BusEvent::Status {
        id: [9; 16],
        status: MsgStatus::Expired
    }));
}

#[test]
fn without_a_route_it_stays_queued_and_limits_hold() {
    let (_, ib) = ids();
    let mut a = Bus::new(BusConfig::default());
    a.send(msg(ib, 10)).unwrap();
    assert!(a.poll_transmit(Timestamp::ZERO, |_| false).is_empty());
    assert_eq!(a.status(&[9; 16]), Some(MsgStatus::Queued));
    // Sent once, then the route went: nothing to do until it is back (the node pumps the bus
    // on its maintenance ticks), so no deadline.
    assert_eq!(a.poll_transmit(Timestamp::ZERO, |_| true).len(), 1);
    assert!(a.poll_timeout().is_some());
    let later = Timestamp::ZERO + Duration::from_secs(60);
    assert!(a.poll_transmit(later, |_| false).is_empty());
    assert_eq!(a.poll_timeout(), None);
    assert_eq!(a.send(msg(ib, 10)), Err(SendError::Duplicate));
    let mut big = msg(ib, (1 << 20) + 1);
    big.id = [1; 16];
    assert!(matches!(a.send(big), Err(SendError::TooLarge(_))));
    let mut empty = msg(ib, 0);
    empty.id = [2; 16];
    a.send(empty).unwrap();
}

/// A message its receiver could not store is refused, not acknowledged: the sender sees it
/// failed, never delivered.
#[test]
fn a_message_that_could_not_be_stored_is_refused_not_acknowledged() {
    let (ia, ib) = ids();
    let mut a = Bus::new(BusConfig::default());
    let mut b = Bus::new(BusConfig::default());
    let m = msg(ib, 3000);
    a.send(m.clone()).unwrap();
    // Run until b has the whole message, then report the store failure before b sends on.
    let mut now = Timestamp::ZERO;
    let mut got = false;
    for _ in 0..1000 {
        now = now + Duration::from_millis(1);
        for (_, kind, p) in a.poll_transmit(now, |_| true) {
            deliver(&mut b, now, ia, kind, &p);
        }
        if events(&mut b)
            .iter()
            .any(|e| matches!(e, BusEvent::Received(_)))
        {
            b.store_failed(now, ia, m.id);
            got = true;
            break;
        }
        for (_, kind, p) in b.poll_transmit(now, |_| true) {
            deliver(&mut a, now, ib, kind, &p);
        }
    }
    assert!(got);
    run(&mut a, &mut b, (ia, ib), 2000, 0);
    let statuses: Vec<_> = events(&mut a)
        .into_iter()
        .filter_map(|e| match e {
            BusEvent::Status { status, .. } => Some(status),
            _ => None,
        })
        .collect();
    assert_eq!(statuses, vec![MsgStatus::Sent, MsgStatus::Failed]);
    assert_eq!(b.counters.store_failed, 1);
}

#[test]
fn a_receiver_that_restarts_mid_message_gets_what_it_lost() {
    let (ia, ib) = ids();
    let m = msg(ib, 300 * 1024 + 7);
    for (crash_at, loss) in [(5, 0), (15, 0), (25, 0), (40, 0), (120, 5), (300, 10)] {
        let mut a = Bus::new(BusConfig::default());
        let mut b = Bus::new(BusConfig::default());
        a.send(m.clone()).unwrap();
        let now = run(&mut a, &mut b, (ia, ib), crash_at, loss);
        assert_eq!(
            b.counters.received, 0,
            "crash at {crash_at} ms: not complete yet"
        );
        // b is killed: its half-built message is gone, nothing was stored.
        let mut b2 = Bus::new(BusConfig::default());
        run_from(now, &mut a, &mut b2, (ia, ib), 30_000, loss);
        let got: Vec<_> = events(&mut b2)
            .into_iter()
            .filter_map(|e| match e {
                BusEvent::Received(m) => Some(m.payload),
                _ => None,
            })
            .collect();
        assert_eq!(
            got,
            vec![m.payload.clone()],
            "crash at {crash_at} ms: once, intact"
        );
        assert!(
            events(&mut a).contains(&BusEvent::Status {
                id: m.id,
                status: MsgStatus::Delivered
            }),
            "crash at {crash_at} ms: the sender sees it delivered"
        );
        if crash_at >= 40 && loss == 0 {
            // (Under loss the RTO may resend everything anyway before b2's first ack.)
            assert!(
                a.counters.acks_regressed > 0,
                "crash at {crash_at} ms: {:?}",
                a.counters
            );
        }
    }
}

#[test]
fn a_sender_told_everything_arrived_but_not_complete_asks_again() {
    let (ia, ib) = ids();
    let m = msg(ib, 5000);
    let mut a = Bus::new(BusConfig::default());
    a.send(m.clone()).unwrap();
    let now = Timestamp::ZERO + Duration::from_millis(1);
    assert_eq!(a.poll_transmit(now, |_| true).len(), 5);
    // A receiver acknowledged every byte, then lost it all before it could complete.
    a.on_ack(
        ib,
        &BusAckRepr {
            msg_id: m.id,
            flags: 0,
            ranges: vec![(0, 5000)],
        },
    );
    assert!(a.poll_transmit(now, |_| true).is_empty(), "nothing due yet");
    let mut b = Bus::new(BusConfig::default());
    run_from(now, &mut a, &mut b, (ia, ib), 10_000, 0);
    assert!(a.counters.probes >= 1);
    assert_eq!(b.counters.received, 1);
    assert!(events(&mut a).contains(&BusEvent::Status {
        id: m.id,
        status: MsgStatus::Delivered
    }));
}

#[test]
fn chunks_cut_to_fragment_a_reassembly_get_it_dropped() {
    let (ia, ib) = ids();
    let mut b = Bus::new(BusConfig::default());
    let t = Timestamp::ZERO;
    let total = 1 << 20;
    let one = [7u8];
    for k in 0..=MAX_PARTIAL_RANGES as u32 {
        b.on_chunk(
            t,
            ia,
            &BusChunkRepr {
                msg_id: [3; 16],
                total_len: total,
                offset: k * 2,
                topic: "t",
                reply_to: None,
                data: &one,
            },
        );
    }
    assert_eq!(
        b.counters.rejected, 1,
        "dropped at the first range over the cap"
    );
    assert_eq!(b.counters.received, 0);
    // The bus still works for an honest sender.
    let mut a = Bus::new(BusConfig::default());
    a.send(msg(ib, 5000)).unwrap();
    run(&mut a, &mut b, (ia, ib), 200, 0);
    assert_eq!(b.counters.received, 1);
}

/// Woken only at the deadlines it gives (as the daemon and the simulator do), the bus resends
/// on every one, also once the backed-off timeout has fractions of a microsecond.
#[test]
fn every_resend_deadline_resends() {
    let (_, ib) = ids();
    let mut a = Bus::new(BusConfig::default());
    a.send(msg(ib, 10)).unwrap();
    let mut now = Timestamp::ZERO;
    assert_eq!(a.poll_transmit(now, |_| true).len(), 1);
    for _ in 0..12 {
        let t = a.poll_timeout().expect("a chunk in flight");
        assert!(t > now, "deadline {t:?} not after {now:?}");
        now = t;
        let before = a.counters.chunks_resent;
        assert_eq!(a.poll_transmit(now, |_| true).len(), 1);
        assert_eq!(a.counters.chunks_resent, before + 1, "woken at {now:?}");
    }
}
