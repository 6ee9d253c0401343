//! The smoltcp device: two packet queues that the stack task fills and drains.

use std::collections::VecDeque;

use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use smoltcp::wire::{IpProtocol, Ipv6Packet, TcpPacket};

/// Packets waiting to go out before the device refuses more: smoltcp then keeps data in its
/// socket buffers, which is how a full outbound pipe turns into TCP backpressure.
pub(crate) const TX_QUEUE: usize = 64;
/// Packets taken off the inbound pipe per poll round.
pub(crate) const RX_QUEUE: usize = 64;
/// Replies beyond this many queued packets are dropped. Inbound packets are processed even
/// while the outbound pipe is full: a stack that stopped reading until it could write would
/// deadlock with a peer (or a data plane) doing the same. Their replies are bounded by the
/// inbound rate, and a dropped one is an ordinary loss that TCP repairs.
const TX_HARD_LIMIT: usize = 1024;

pub(crate) struct Device {
    pub rx: VecDeque<Vec<u8>>,
    pub tx: VecDeque<Vec<u8>>,
    mtu: usize,
    /// Whether a connection-opening SYN has been handed to smoltcp in this poll round. Only one
    /// goes in per round: a listening smoltcp socket takes one SYN and stops listening, so the
    /// stack must open a fresh listening socket before the next SYN for that port is seen, or
    /// smoltcp would answer it with a reset.
    pub syn_taken: bool,
}

impl Device {
    pub fn new(mtu: usize) -> Self {
        Device {
            rx: VecDeque::new(),
            tx: VecDeque::new(),
            mtu,
            syn_taken: false,
        }
    }

    pub fn tx_full(&self) -> bool {
        self.tx.len() >= TX_QUEUE
    }

    /// Whether smoltcp would take another packet this round.
    pub fn rx_ready(&self) -> bool {
        !(self.rx.is_empty() || self.syn_taken && is_syn(&self.rx[0]))
    }
}

/// A TCP SYN without ACK: the first packet of a connection someone opens to us.
fn is_syn(packet: &[u8]) -> bool {
    let Ok(ip) = Ipv6Packet::new_checked(packet) else {
        return false;
    };
    if ip.next_header() != IpProtocol::Tcp {
        return false;
    }
    TcpPacket::new_checked(ip.payload()).is_ok_and(|tcp| tcp.syn() && !tcp.ack())
}

impl phy::Device for Device {
    type RxToken<'a> = RxToken;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(RxToken, TxToken<'_>)> {
        if !self.rx_ready() {
            return None;
        }
        let packet = self.rx.pop_front()?;
        if is_syn(&packet) {
            self.syn_taken = true;
        }
        Some((RxToken(packet), TxToken(&mut self.tx)))
    }

    fn transmit(&mut self, _now: Instant) -> Option<TxToken<'_>> {
        (!self.tx_full()).then_some(TxToken(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = self.mtu;
        caps
    }
}

pub(crate) struct RxToken(Vec<u8>);

impl phy::RxToken for RxToken {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

pub(crate) struct TxToken<'a>(&'a mut VecDeque<Vec<u8>>);

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut packet = vec![0; len];
        let r = f(&mut packet);
        if self.0.len() < TX_HARD_LIMIT {
            self.0.push_back(packet);
        }
        r
    }
}
