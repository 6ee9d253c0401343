//! Bus reassembly and acknowledgement: a stream of chunks and acks from two senders, as
//! arbitrary bytes, into one bus; every message it reports received must match its chunks'
//! declared length, and the bus keeps answering.
#![no_main]

use std::time::Duration;

use hypha_proto::bus::{Bus, BusConfig, BusEvent};
use hypha_proto::identity::Identity;
use hypha_proto::time::Timestamp;
use hypha_proto::wire::bus_ack::BusAckRepr;
use hypha_proto::wire::bus_chunk::BusChunkRepr;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let peers = [
        Identity::from_seed([1; 32]).node_id(),
        Identity::from_seed([2; 32]).node_id(),
    ];
    let mut bus = Bus::new(BusConfig {
        max_partial: 4,
        remember: 16,
        ..BusConfig::default()
    });
    let mut now = Timestamp::ZERO;
    let mut rest = data;
    while let [kind, len_hi, len_lo, tail @ ..] = rest {
        let n = (u16::from_be_bytes([*len_hi, *len_lo]) as usize).min(tail.len());
        let (bytes, next) = tail.split_at(n);
        rest = next;
        let from = peers[(kind & 1) as usize];
        now = now + Duration::from_millis((kind >> 2) as u64);
        if kind & 2 == 0 {
            if let Ok(c) = BusChunkRepr::parse(bytes) {
                bus.on_chunk(now, from, &c);
            }
        } else if let Ok(a) = BusAckRepr::parse(bytes) {
            bus.on_ack(from, &a);
        }
        let _ = bus.poll_transmit(now, |_| true);
        while let Some(e) = bus.poll_event() {
            if let BusEvent::Received(m) = e {
                assert!(m.payload.len() <= 1 << 20);
            }
        }
        let _ = bus.poll_timeout();
    }
});
