//! The SOCKS5 proxy's greeting and request parser, fed one client's whole stream.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let written = hypha_daemon::fuzzing::socks_handshake(data);
    // The proxy only ever answers the greeting (two bytes) before it has a target.
    assert!(written.len() <= 2, "wrote {written:?}");
});
