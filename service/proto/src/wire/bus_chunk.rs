//! A message-bus chunk (sealed end to end, payload kind 0x01).
//!
//! ```text
//! msg_id (16) | total_len u32 | offset u32 | flags u8 | topic_len u8 | topic (UTF-8) |
//! [reply_to (16) if flags & 1] | data
//! ```
//! A message is cut into chunks that each fit one routed packet; the receiver reassembles by
//! `offset` and acknowledges with a [`super::bus_ack`] frame.

use super::{Reader, WireError};

/// Largest message the bus carries.
pub const MAX_MESSAGE_LEN: u32 = 1 << 20;
/// Flag: a `reply_to` message id follows the topic.
pub const FLAG_REPLY_TO: u8 = 0x01;

/// One chunk of a bus message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusChunkRepr<'a> {
    /// Sender-chosen random message id.
    pub msg_id: [u8; 16],
    /// Length of the whole message.
    pub total_len: u32,
    /// Where `data` starts in the message.
    pub offset: u32,
    /// Topic (may be empty).
    pub topic: &'a str,
    /// The message this one answers.
    pub reply_to: Option<[u8; 16]>,
    /// Chunk bytes.
    pub data: &'a [u8],
}

impl<'a> BusChunkRepr<'a> {
    /// Parses and checks bounds (the chunk lies inside the message, the message ≤ 1 MiB).
    pub fn parse(buf: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf);
        let msg_id = r.array()?;
        let total_len = r.u32()?;
        let offset = r.u32()?;
        let flags = r.u8()?;
        if flags & !FLAG_REPLY_TO != 0 {
            return Err(WireError::Malformed("unknown bus flags"));
        }
        let topic_len = r.u8()? as usize;
        let topic = core::str::from_utf8(r.take(topic_len)?)
            .map_err(|_| WireError::Malformed("topic is not UTF-8"))?;
        let reply_to = if flags & FLAG_REPLY_TO != 0 {
            Some(r.array()?)
        } else {
            None
        };
        let data = r.rest();
        if total_len > MAX_MESSAGE_LEN {
            return Err(WireError::Malformed("message too large"));
        }
        let end = offset as u64 + data.len() as u64;
        if end > total_len as u64 || (data.is_empty() && total_len != 0) {
            return Err(WireError::Malformed("chunk outside message"));
        }
        Ok(BusChunkRepr {
            msg_id,
            total_len,
            offset,
            topic,
            reply_to,
            data,
        })
    }

    /// Bytes this chunk takes before its data.
    pub fn header_len(topic: &str, has_reply: bool) -> usize {
        26 + topic.len() + if has_reply { 16 } else { 0 }
    }

    /// Appends the chunk to `out`. The topic must be at most 255 bytes.
    pub fn emit(&self, out: &mut Vec<u8>) {
        debug_assert!(self.topic.len() <= 255);
        out.extend_from_slice(&self.msg_id);
        out.extend_from_slice(&self.total_len.to_be_bytes());
        out.extend_from_slice(&self.offset.to_be_bytes());
        out.push(if self.reply_to.is_some() {
            FLAG_REPLY_TO
        } else {
            0
        });
        out.push(self.topic.len() as u8);
        out.extend_from_slice(self.topic.as_bytes());
        if let Some(r) = self.reply_to {
            out.extend_from_slice(&r);
        }
        out.extend_from_slice(self.data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_bounds() {
        let c = BusChunkRepr {
            msg_id: [7; 16],
            total_len: 10,
            offset: 5,
            topic: "chat",
            reply_to: Some([1; 16]),
            data: b"world",
        };
        let mut buf = Vec::new();
        c.emit(&mut buf);
        assert_eq!(buf.len(), BusChunkRepr::header_len("chat", true) + 5);
        assert_eq!(BusChunkRepr::parse(&buf).unwrap(), c);
        let mut bad = c.clone();
        bad.offset = 6;
        let mut buf = Vec::new();
        bad.emit(&mut buf);
        assert!(BusChunkRepr::parse(&buf).is_err());
    }
}
