//! A TUN made of channels: what the node writes comes out of the handle, and what the handle
//! injects the node reads. Used by tests and by nodes that run without a device.

use std::io;

use tokio::sync::{Mutex, mpsc};

use crate::{RecvBatch, SendBatch, Tun};

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

impl MemoryTun {
    fn take(b: &mut RecvBatch, pkt: Vec<u8>) {
        let buf = &mut b.bufs[0];
        let n = pkt.len().min(buf.len());
        buf[..n].copy_from_slice(&pkt[..n]);
        b.sizes[0] = n;
        b.len = 1;
    }
}

impl Tun for MemoryTun {
    async fn recv_batch(&self, b: &mut RecvBatch) -> io::Result<()> {
        b.len = 0;
        let pkt = self
            .from_stack
            .lock()
            .await
            .recv()
            .await
            .ok_or_else(|| io::Error::new(io::ErrorKind::BrokenPipe, "tun handle dropped"))?;
        Self::take(b, pkt);
        Ok(())
    }

    fn try_recv_batch(&self, b: &mut RecvBatch) -> io::Result<()> {
        b.len = 0;
        let mut rx = self
            .from_stack
            .try_lock()
            .map_err(|_| io::Error::from(io::ErrorKind::WouldBlock))?;
        match rx.try_recv() {
            Ok(pkt) => {
                Self::take(b, pkt);
                Ok(())
            }
            Err(mpsc::error::TryRecvError::Empty) => Err(io::ErrorKind::WouldBlock.into()),
            Err(mpsc::error::TryRecvError::Disconnected) => Err(io::ErrorKind::BrokenPipe.into()),
        }
    }

    async fn send_batch(&self, b: &mut SendBatch) -> io::Result<()> {
        // A full queue drops, like a real device under pressure; never blocks the node.
        let closed = b.packets().any(|p| {
            matches!(
                self.to_stack.try_send(p.to_vec()),
                Err(mpsc::error::TrySendError::Closed(_))
            )
        });
        b.clear();
        if closed {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "tun handle dropped",
            ));
        }
        Ok(())
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
        let mut rx = RecvBatch::new(1280);
        tun.recv_batch(&mut rx).await.unwrap();
        assert_eq!(rx.packets().collect::<Vec<_>>(), vec![&[1, 2, 3][..]]);
        let mut tx = SendBatch::new();
        tx.push(&[9, 9]);
        tx.push(&[8]);
        tun.send_batch(&mut tx).await.unwrap();
        assert!(tx.is_empty());
        assert_eq!(h.delivered.recv().await.unwrap(), vec![9, 9]);
        assert_eq!(h.delivered.recv().await.unwrap(), vec![8]);
    }
}
