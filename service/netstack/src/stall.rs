//! A retransmission safety net for smoltcp.
//!
//! smoltcp 0.12 dropped a socket's retransmission timer on any ACK received in CLOSE-WAIT,
//! CLOSING and LAST-ACK, and when a FIN arrived in FIN-WAIT-1; 0.14 (with the fixes in
//! `service/vendor`) retransmits in those states, but a fast retransmit still clears the
//! timer, and recovery after a burst of losses waits on backed-off timeouts.
//!
//! So the stack remembers the last acknowledgement each peer sent, and when a connection with
//! unacknowledged data has made no progress for a while, it hands smoltcp copies of that
//! acknowledgement: smoltcp takes them for duplicates and retransmits. With it, 10 MiB each
//! way through 2 % loss takes about 13 s here; without it, 27–51 s (both with smoltcp's RTO
//! floor at 200 ms, vendor patch 5).

use std::collections::HashMap;
use std::net::Ipv6Addr;

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    IpAddress, IpProtocol, Ipv6Packet, Ipv6Repr, TcpControl, TcpPacket, TcpRepr, TcpSeqNumber,
};

/// Remote address, remote port, local port.
pub(crate) type Tuple = (Ipv6Addr, u16, u16);

/// The latest acknowledgement a peer sent, and where its sequence space ends.
#[derive(Clone, Copy)]
struct PeerAck {
    seq_end: TcpSeqNumber,
    ack: TcpSeqNumber,
    window: u16,
}

/// Peer acknowledgements, for open connections only (so that stray packets cannot grow it).
#[derive(Default)]
pub(crate) struct Acks(HashMap<Tuple, Option<PeerAck>>);

impl Acks {
    pub fn track(&mut self, tuple: Tuple) {
        self.0.insert(tuple, None);
    }

    pub fn forget(&mut self, tuple: &Tuple) {
        self.0.remove(tuple);
    }

    /// Notes the acknowledgement in an inbound packet already known to be IPv6 for us.
    pub fn observe(&mut self, ip: &Ipv6Packet<&[u8]>) {
        if ip.next_header() != IpProtocol::Tcp {
            return;
        }
        let Ok(tcp) = TcpPacket::new_checked(ip.payload()) else {
            return;
        };
        if !tcp.ack() || tcp.syn() || tcp.rst() {
            return;
        }
        let Some(slot) = self
            .0
            .get_mut(&(ip.src_addr(), tcp.src_port(), tcp.dst_port()))
        else {
            return;
        };
        let seq_end = tcp.seq_number() + tcp.segment_len();
        let seq_end = match slot {
            Some(prev) if prev.seq_end > seq_end => prev.seq_end,
            _ => seq_end,
        };
        *slot = Some(PeerAck {
            seq_end,
            ack: tcp.ack_number(),
            window: tcp.window_len(),
        });
    }

    /// The peer's latest acknowledgement as packets to feed smoltcp: first with another
    /// window, which smoltcp takes as a window update that resets its duplicate count (it
    /// retransmits on exactly the third duplicate, and a stalled socket is usually past it),
    /// then four times as it was: a window update again, and three duplicates.
    pub fn duplicates(&self, tuple: &Tuple, local: Ipv6Addr) -> Vec<Vec<u8>> {
        let Some(Some(peer)) = self.0.get(tuple) else {
            return Vec::new();
        };
        let other = if peer.window == 0 { 1 } else { peer.window - 1 };
        let mut packets = vec![self.ack(tuple, local, peer, other)];
        packets.extend(std::iter::repeat_n(
            self.ack(tuple, local, peer, peer.window),
            4,
        ));
        packets
    }

    fn ack(&self, tuple: &Tuple, local: Ipv6Addr, peer: &PeerAck, window: u16) -> Vec<u8> {
        let tcp = TcpRepr {
            src_port: tuple.1,
            dst_port: tuple.2,
            control: TcpControl::None,
            seq_number: peer.seq_end,
            ack_number: Some(peer.ack),
            window_len: window,
            window_scale: None,
            max_seg_size: None,
            sack_permitted: false,
            sack_ranges: [None; 3],
            timestamp: None,
            payload: &[],
        };
        let ip = Ipv6Repr {
            src_addr: tuple.0,
            dst_addr: local,
            next_header: IpProtocol::Tcp,
            payload_len: tcp.buffer_len(),
            hop_limit: 64,
        };
        let mut buf = vec![0; ip.buffer_len() + tcp.buffer_len()];
        let mut packet = Ipv6Packet::new_unchecked(&mut buf[..]);
        ip.emit(&mut packet);
        tcp.emit(
            &mut TcpPacket::new_unchecked(packet.payload_mut()),
            &IpAddress::Ipv6(tuple.0),
            &IpAddress::Ipv6(local),
            &ChecksumCapabilities::default(),
        );
        buf
    }
}
