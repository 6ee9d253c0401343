//! The `.hypha` DNS responder, fed one datagram.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = hypha_daemon::fuzzing::dns_query(data);
});
