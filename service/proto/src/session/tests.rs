use super::*;

const T0: Timestamp = Timestamp::from_micros(1_000_000);

struct End {
    id: Identity,
    s: Sessions,
    got: Vec<Vec<u8>>,
    /// Every packet this end sent, as recorded by an eavesdropper.
    sent: Vec<Vec<u8>>,
}

fn end(seed: u8, cfg: SessionConfig) -> End {
    End {
        id: Identity::from_seed([seed; 32]),
        s: Sessions::new(cfg, [seed ^ 0x55; 32]),
        got: Vec::new(),
        sent: Vec::new(),
    }
}

/// Moves packets both ways until nothing is left to send; returns refusals.
fn pump(a: &mut End, b: &mut End, now: Timestamp) -> Vec<SessionError> {
    let mut errors = Vec::new();
    loop {
        let mut moved = false;
        for dir in 0..2 {
            let (from, to) = if dir == 0 {
                (&mut *a, &mut *b)
            } else {
                (&mut *b, &mut *a)
            };
            while let Some((_, mut pkt)) = from.s.poll_outbox() {
                moved = true;
                from.sent.push(pkt.clone());
                match to.s.open(now, &to.id, &mut pkt, None) {
                    Ok(Opened::Data(src, _, _, r)) => {
                        assert_eq!(src, from.id.node_id());
                        to.got.push(pkt[r].to_vec());
                    }
                    Ok(Opened::Control) => {}
                    Err(e) => errors.push(e),
                }
            }
        }
        if !moved {
            return errors;
        }
    }
}

/// Sends one payload a → b (queued or at once) and delivers it.
fn send(a: &mut End, b: &mut End, now: Timestamp, payload: &[u8]) -> Vec<SessionError> {
    let mut pkt = Vec::new();
    let dst = b.id.node_id();
    match a
        .s
        .seal(now, &a.id, &dst, PayloadKind::Ipv6, payload, 64, &mut pkt)
    {
        Ok(Sealed::Now) => {
            a.sent.push(pkt.clone());
            match b.s.open(now, &b.id, &mut pkt, None) {
                Ok(Opened::Data(_, _, _, r)) => b.got.push(pkt[r].to_vec()),
                other => panic!("{other:?}"),
            }
        }
        Ok(Sealed::Queued) => {}
        Err(e) => panic!("{e:?}"),
    }
    pump(a, b, now)
}

#[test]
fn one_round_trip_then_both_ways() {
    let (mut a, mut b) = (
        end(1, SessionConfig::default()),
        end(2, SessionConfig::default()),
    );
    assert!(send(&mut a, &mut b, T0, b"first").is_empty());
    assert_eq!(b.got, vec![b"first".to_vec()]);
    assert_eq!(
        (a.s.counters.hellos_sent, b.s.counters.hellos_answered),
        (1, 1)
    );
    // b can answer on the same session at once: a's data confirmed it.
    let mut pkt = Vec::new();
    let r = b.s.seal(
        T0,
        &b.id,
        &a.id.node_id(),
        PayloadKind::Ipv6,
        b"back",
        64,
        &mut pkt,
    );
    assert_eq!(r, Ok(Sealed::Now));
    match a.s.open(T0, &a.id, &mut pkt, None) {
        Ok(Opened::Data(src, _, PayloadKind::Ipv6, range)) => {
            assert_eq!(src, b.id.node_id());
            assert_eq!(&pkt[range], b"back");
        }
        other => panic!("{other:?}"),
    }
    // A data packet's header is 32 bytes: 32 + kind + payload + tag.
    assert_eq!(pkt.len(), HEADER_LEN + 1 + 4 + TAG_LEN);
    assert_eq!(a.s.len(), 1);
    assert_eq!(b.s.len(), 1);
}

#[test]
fn replays_are_refused_and_tampering_detected() {
    let (mut a, mut b) = (
        end(1, SessionConfig::default()),
        end(2, SessionConfig::default()),
    );
    send(&mut a, &mut b, T0, b"one");
    let mut pkt = Vec::new();
    a.s.seal(
        T0,
        &a.id,
        &b.id.node_id(),
        PayloadKind::Ipv6,
        b"two",
        64,
        &mut pkt,
    )
    .unwrap();
    let mut copy = pkt.clone();
    assert!(b.s.open(T0, &b.id, &mut copy, None).is_ok());
    let mut copy = pkt.clone();
    assert_eq!(
        b.s.open(T0, &b.id, &mut copy, None),
        Err(SessionError::Replay)
    );
    // The hop limit is not covered (relays decrement it); the destination is.
    let mut fresh = Vec::new();
    a.s.seal(
        T0,
        &a.id,
        &b.id.node_id(),
        PayloadKind::Ipv6,
        b"3",
        64,
        &mut fresh,
    )
    .unwrap();
    let mut hop = fresh.clone();
    hop[0] = 7;
    assert!(b.s.open(T0, &b.id, &mut hop, None).is_ok());
    let mut other = Vec::new();
    a.s.seal(
        T0,
        &a.id,
        &b.id.node_id(),
        PayloadKind::Ipv6,
        b"4",
        64,
        &mut other,
    )
    .unwrap();
    other[10] ^= 1;
    assert_eq!(
        b.s.open(T0, &b.id, &mut other, None),
        Err(SessionError::Auth)
    );
}

#[test]
fn a_recorded_session_stays_sealed_when_both_static_keys_leak() {
    let (mut a, mut b) = (
        end(1, SessionConfig::default()),
        end(2, SessionConfig::default()),
    );
    send(&mut a, &mut b, T0, b"the secret");
    // The eavesdropper has every packet and, later, both nodes' static keys.
    let recorded: Vec<Vec<u8>> = a.sent.clone();
    let hello = recorded
        .iter()
        .find(|p| p[2] == crate::wire::routed::TYPE_HELLO)
        .unwrap()
        .clone();
    let data = recorded
        .iter()
        .find(|p| p[2] == crate::wire::routed::TYPE_DATA)
        .unwrap()
        .clone();
    let plain_at = data.windows(10).position(|w| w == b"the secret");
    assert!(plain_at.is_none(), "payload visible on the wire");
    // 1. The version-1 construction (a key from the two static keys) does not open it.
    let dh = a.id.dh(&b.id.node_id().x25519_public().unwrap()).unwrap();
    let mut h = blake3::Hasher::new_derive_key("hypha 2026-11 e2e v1");
    h.update(&dh);
    h.update(a.id.node_id().as_bytes());
    h.update(b.id.node_id().as_bytes());
    h.update(&0u64.to_be_bytes());
    let static_key = crate::crypto::Cipher::new(h.finalize().as_bytes());
    let mut d = data.clone();
    let (head, body) = d.split_at_mut(HEADER_LEN);
    let counter = u64::from_be_bytes(head[24..32].try_into().unwrap());
    assert!(static_key.open(counter, &head[AAD_START..], body).is_none());
    // 2. Replaying the hello to a responder holding b's static key yields a session with a
    //    fresh ephemeral key: other keys, and the recorded packet still does not open, not
    //    even under the new session's index.
    let mut thief = Sessions::new(SessionConfig::default(), [9; 32]);
    let mut h2 = hello.clone();
    assert_eq!(thief.open(T0, &b.id, &mut h2, None), Ok(Opened::Control));
    let (_, answer) = thief.poll_outbox().unwrap();
    let thief_index = match RoutedRepr::parse(&answer).unwrap().body {
        RoutedBody::HelloBack { sender_index, .. } => sender_index,
        other => panic!("{other:?}"),
    };
    let mut d = data.clone();
    assert_eq!(
        thief.open(T0, &b.id, &mut d, None),
        Err(SessionError::UnknownSession)
    );
    let mut d = data.clone();
    d[20..24].copy_from_slice(&thief_index.to_be_bytes());
    assert_eq!(thief.open(T0, &b.id, &mut d, None), Err(SessionError::Auth));
}

#[test]
fn rekeys_after_packets_and_time_without_losing_any() {
    let cfg = SessionConfig {
        rekey_after_packets: 50,
        rekey_after: Duration::from_secs(10),
        ..SessionConfig::default()
    };
    let (mut a, mut b) = (end(1, cfg.clone()), end(2, cfg));
    let mut now = T0;
    for i in 0..400u32 {
        // Half a second per 20 packets: 10 s of traffic, so both limits trigger.
        if i % 20 == 0 {
            now = now + Duration::from_millis(500);
            a.s.handle_timeout(now);
            b.s.handle_timeout(now);
        }
        let errors = send(&mut a, &mut b, now, &i.to_be_bytes());
        assert!(errors.is_empty(), "{errors:?}");
    }
    assert_eq!(b.got.len(), 400, "a packet was lost while rekeying");
    for (i, p) in b.got.iter().enumerate() {
        assert_eq!(p[..], (i as u32).to_be_bytes());
    }
    assert!(a.s.counters.rekeys >= 7, "{:?}", a.s.counters);
    assert_eq!(a.s.counters.queue_dropped, 0);
    // Old sessions are erased once past reject_after; the table stays small.
    now = now + Duration::from_secs(200);
    a.s.handle_timeout(now);
    b.s.handle_timeout(now);
    assert!(
        a.s.len() <= 1 && b.s.len() <= 1,
        "{} {}",
        a.s.len(),
        b.s.len()
    );
    assert!(a.s.counters.erased >= 7);
}

#[test]
fn no_replay_after_eviction() {
    let cfg = SessionConfig {
        max_sessions: 2,
        ..SessionConfig::default()
    };
    let mut b = end(2, cfg);
    let mut a = end(1, SessionConfig::default());
    send(&mut a, &mut b, T0, b"hello");
    let mut pkt = Vec::new();
    a.s.seal(
        T0,
        &a.id,
        &b.id.node_id(),
        PayloadKind::Ipv6,
        b"again",
        64,
        &mut pkt,
    )
    .unwrap();
    assert!(b.s.open(T0, &b.id, &mut pkt.clone(), None).is_ok());
    // Two other nodes make sessions with b: a's is evicted (and its window with it).
    for seed in [3u8, 4] {
        let mut c = end(seed, SessionConfig::default());
        send(&mut c, &mut b, T0, b"x");
    }
    assert_eq!(b.s.counters.erased, 1);
    assert_eq!(
        b.s.open(T0, &b.id, &mut pkt.clone(), None),
        Err(SessionError::UnknownSession)
    );
    // Whatever happens next, that packet stays refused: a new session has new keys.
    a.s.debug_forget_all();
    send(&mut a, &mut b, T0 + Duration::from_secs(2), b"y");
    assert!(b.s.open(T0, &b.id, &mut pkt.clone(), None).is_err());
    // Forgetting everything outright refuses every recorded data packet too.
    b.s.debug_forget_all();
    for p in &a.sent {
        if p[2] == crate::wire::routed::TYPE_DATA {
            assert_eq!(
                b.s.open(T0, &b.id, &mut p.clone(), None),
                Err(SessionError::UnknownSession)
            );
        }
    }
}

#[test]
fn hellos_to_someone_else_and_unanswered_handshakes() {
    let (mut a, mut b) = (
        end(1, SessionConfig::default()),
        end(2, SessionConfig::default()),
    );
    let c = end(3, SessionConfig::default());
    // A hello meant for c does not verify at b, and leaves no state.
    let mut pkt = Vec::new();
    a.s.seal(
        T0,
        &a.id,
        &c.id.node_id(),
        PayloadKind::Ipv6,
        b"x",
        64,
        &mut pkt,
    )
    .unwrap();
    let (_, mut hello) = a.s.poll_outbox().unwrap();
    assert_eq!(
        b.s.open(T0, &b.id, &mut hello, None),
        Err(SessionError::Handshake)
    );
    assert!(b.s.is_empty());
    // Unanswered: retried every second, abandoned after six, queue dropped.
    for s in 1..=7 {
        a.s.handle_timeout(T0 + Duration::from_secs(s));
    }
    assert_eq!(a.s.counters.gave_up, 1);
    assert_eq!(a.s.counters.queue_dropped, 1);
    assert!(a.s.counters.hellos_sent >= 5);
    // A node id that is no key is refused outright.
    let bad = NodeId::from_bytes([0; 32]);
    assert_eq!(
        a.s.seal(
            T0,
            &a.id,
            &bad,
            PayloadKind::Ipv6,
            b"x",
            64,
            &mut Vec::new()
        ),
        Err(SessionError::BadPeerKey)
    );
    let _ = pump(&mut a, &mut b, T0);
}
