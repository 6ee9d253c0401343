//! The local API's framing and message decoding: what the service reads from a client
//! (first byte even) and what a client reads from the service (odd).
#![no_main]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use hypha_ipc::api::{ClientMsg, ServerMsg};
use hypha_ipc::frame;
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Reads frames until the input runs out or one is refused, as the reader does.
fn frames<T: DeserializeOwned + Serialize>(mut input: &[u8]) {
    for _ in 0..8 {
        let mut f = pin!(frame::read::<T, _>(&mut input));
        match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Ok(msg)) => {
                serde_json::to_vec(&msg).expect("a decoded message encodes again");
            }
            Poll::Ready(Err(_)) => break,
            Poll::Pending => panic!("reading from memory waited"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((w, rest)) if w % 2 == 0 => frames::<ClientMsg>(rest),
        Some((_, rest)) => frames::<ServerMsg>(rest),
        None => {}
    }
});
