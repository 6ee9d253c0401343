//! One node's share of a time window: the datagrams and timers it handles in the window, and
//! what it produces (see [`crate::world`] for how windows are cut and merged).

use hypha_proto::node::{Event, Node, Transmit};
use hypha_proto::time::Timestamp;

use crate::world::remote_of;

/// A datagram for a node, taken off the queue for the current window.
pub(crate) struct Input {
    pub(crate) at: Timestamp,
    pub(crate) from: u32,
    pub(crate) payload: Vec<u8>,
}

/// What a node produced, stamped with the virtual time it did.
pub(crate) enum Out {
    Send(Transmit),
    Event(Event),
    Tun(Vec<u8>),
}

/// One node's share of a window: its inputs, and what it produced handling them.
#[derive(Default)]
pub(crate) struct Mailbox {
    /// In the current window.
    pub(crate) busy: bool,
    pub(crate) inbox: Vec<Input>,
    /// Its timer when the window starts.
    pub(crate) wake_in: Timestamp,
    /// Taken (`None`) as the window's outputs are applied.
    pub(crate) out: Vec<(Timestamp, Option<Out>)>,
    /// Its timer when the window ends (at or after the end).
    pub(crate) wake_out: Timestamp,
    /// The virtual time of the last thing it handled.
    pub(crate) last: Timestamp,
}

/// Most inputs or outputs a node's mailbox keeps room for between windows.
pub(crate) const SPARE: usize = 32;

/// Drains what `node` produced into `out`, stamped `now`.
pub(crate) fn drain(node: &mut Node, now: Timestamp, out: &mut Vec<(Timestamp, Option<Out>)>) {
    while let Some(t) = node.poll_transmit() {
        out.push((now, Some(Out::Send(t))));
    }
    while let Some(ev) = node.poll_event() {
        out.push((now, Some(Out::Event(ev))));
    }
    while let Some(pkt) = node.poll_tun() {
        out.push((now, Some(Out::Tun(pkt))));
    }
}

/// Runs one node up to `end`: its datagrams and its timers, in time order (a datagram before
/// a timer due at the same moment). Touches nothing but the node and its mailbox, which is
/// what lets the nodes of a window run on several threads.
pub(crate) fn run_node(node: &mut Node, m: &mut Mailbox, end: Timestamp) {
    let mut wake = m.wake_in;
    let mut inputs = std::mem::take(&mut m.inbox);
    let mut next = 0;
    loop {
        let now = match inputs.get_mut(next) {
            Some(x) if x.at <= wake || wake >= end => {
                next += 1;
                // Freed as soon as handled: a window's datagrams all at once would raise the
                // peak.
                let mut payload = std::mem::take(&mut x.payload);
                node.handle_datagram(x.at, remote_of(x.from as usize), &mut payload);
                x.at
            }
            _ if wake < end => {
                node.handle_timeout(wake);
                wake
            }
            _ => break,
        };
        drain(node, now, &mut m.out);
        wake = node.poll_timeout().max(now);
        m.last = now;
    }
    inputs.clear();
    // Kept for the next window unless a burst made it large: a thousand nodes keeping their
    // largest window's buffers would hold tens of MB.
    if inputs.capacity() <= SPARE {
        m.inbox = inputs;
    }
    m.wake_out = wake;
}
