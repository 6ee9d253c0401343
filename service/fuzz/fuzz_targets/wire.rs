//! Every wire parser of the core: arbitrary bytes give a value or an error, never a panic,
//! and whatever parses survives emit → parse unchanged. The first byte picks the parser.
#![no_main]

use hypha_proto::wire::babel::parse_tlvs;
use hypha_proto::wire::bus_ack::BusAckRepr;
use hypha_proto::wire::bus_chunk::BusChunkRepr;
use hypha_proto::wire::discovery::DiscoveryRepr;
use hypha_proto::wire::handshake::HandshakeRepr;
use hypha_proto::wire::inner::InnerRepr;
use hypha_proto::wire::probe::ProbeReplyRepr;
use hypha_proto::wire::rekey::RekeyRepr;
use hypha_proto::wire::routed::RoutedRepr;
use hypha_proto::wire::transport::TransportRepr;
use hypha_proto::wire::{data_frame, fact};
use libfuzzer_sys::fuzz_target;

/// Parses, and if that works, checks parse(emit(x)) == x.
macro_rules! roundtrip {
    ($ty:ty, $buf:expr) => {
        if let Ok(v) = <$ty>::parse($buf) {
            let mut out = Vec::new();
            v.emit(&mut out);
            assert_eq!(
                <$ty>::parse(&out).ok().as_ref(),
                Some(&v),
                "emit → parse changed it"
            );
        }
    };
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, buf)) = data.split_first() else {
        return;
    };
    match which % 13 {
        0 => roundtrip!(HandshakeRepr, buf),
        1 => roundtrip!(TransportRepr, buf),
        2 => roundtrip!(InnerRepr, buf),
        3 => roundtrip!(RoutedRepr, buf),
        4 => roundtrip!(BusChunkRepr, buf),
        5 => roundtrip!(BusAckRepr, buf),
        6 => roundtrip!(DiscoveryRepr, buf),
        7 => roundtrip!(ProbeReplyRepr, buf),
        8 => {
            // The body parses without its kind byte, which emit writes first.
            if let Ok(v) = RekeyRepr::parse(buf) {
                let mut out = Vec::new();
                v.emit(&mut out);
                assert_eq!(RekeyRepr::parse(&out[1..]).ok(), Some(v));
            }
        }
        9 => {
            let tlvs: Vec<_> = parse_tlvs(buf).collect();
            let good: Vec<_> = tlvs.into_iter().filter_map(Result::ok).collect();
            let mut out = Vec::new();
            for t in &good {
                t.emit(&mut out);
            }
            let again: Vec<_> = parse_tlvs(&out)
                .collect::<Result<_, _>>()
                .expect("re-parse");
            assert_eq!(again, good, "TLVs changed through emit → parse");
        }
        10 => {
            if let Ok(facts) = fact::parse_list(buf) {
                let mut out = Vec::new();
                fact::emit_list(&facts, &mut out);
                assert_eq!(fact::parse_list(&out).expect("re-parse"), facts);
                for f in &facts {
                    let _ = fact::parse_name(&f.value);
                    let _ = fact::parse_endpoint(&f.value);
                }
            }
        }
        11 => {
            let _ = data_frame::parse(buf);
        }
        _ => {
            let _ = fact::parse_name(buf);
            let _ = fact::parse_endpoint(buf);
        }
    }
});
