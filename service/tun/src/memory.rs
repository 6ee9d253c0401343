//! A TUN made of channels: what the node writes comes out of the handle, and what the handle
//! injects the node reads. Used by tests and by nodes that run without a device.

use std::io;

use tokio::sync::{Mutex, mpsc};

use crate::Tun;

/// The node's side.
pub struct MemoryTun {
    from_stack: Mutex<mpsc::Receiver<Vec<u8>>>,
    to_stack: mpsc::Sender<Vec<u8>>,
}

/// The test's (or local stack's) side.
pub struct MemoryTunHandle {
    /// Packets the node delivered.
    pub delivered: mpsc::Receiver<Vec<u8>>,
    /// Inject packets as if the local stack sent them.
    pub inject: mpsc::Sender<Vec<u8>>,
}

impl MemoryTun {
    /// A connected pair with room for `depth` packets each way.
    pub fn pair(depth: usize) -> (MemoryTun, MemoryTunHandle) {
        let (inject, from_stack) = mpsc::channel(depth);
        let (to_stack, delivered) = mpsc::channel(depth);
        (
            MemoryTun {
                from_stack: Mutex::new(from_stack),
                to_stack,
            },
            MemoryTunHandle { delivered, inject },
        )
    }
}

impl Tun for MemoryTun {
    async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        let pkt = self
            .from_stack
            .lock()
            .await
            .recv()
            .await
            .ok_or_else(|| io::Error::new(io::ErrorKind::BrokenPipe, "tun handle dropped"))?;
        let n = pkt.len().min(buf.len());
        buf[..n].copy_from_slice(&pkt[..n]);
        Ok(n)
    }

    fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut rx = self
            .from_stack
            .try_lock()
            .map_err(|_| io::Error::from(io::ErrorKind::WouldBlock))?;
        match rx.try_recv() {
            Ok(pkt) => {
                let n = pkt.len().min(buf.len());
                buf[..n].copy_from_slice(&pkt[..n]);
                Ok(n)
            }
            Err(mpsc::error::TryRecvError::Empty) => Err(io::ErrorKind::WouldBlock.into()),
            Err(mpsc::error::TryRecvError::Disconnected) => Err(io::ErrorKind::BrokenPipe.into()),
        }
    }

    async fn send(&self, packet: &[u8]) -> io::Result<usize> {
        // A full queue drops, like a real device under pressure; never blocks the node.
        match self.to_stack.try_send(packet.to_vec()) {
            Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => Ok(packet.len()),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "tun handle dropped",
            )),
        }
    }

    fn name(&self) -> String {
        "memory".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn packets_cross_both_ways() {
        let (tun, mut h) = MemoryTun::pair(4);
        h.inject.send(vec![1, 2, 3]).await.unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(tun.recv(&mut buf).await.unwrap(), 3);
        tun.send(&[9, 9]).await.unwrap();
        assert_eq!(h.delivered.recv().await.unwrap(), vec![9, 9]);
    }
}
