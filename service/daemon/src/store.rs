//! The message bus's outbox and inbox in an embedded database (redb) under the state
//! directory, so that nothing queued or received is lost across restarts.
//!
//! Values are `u32 header length ‖ header JSON ‖ payload bytes`: the header is small and
//! readable, the payload (up to 1 MiB) stays binary.

use std::path::Path;

use anyhow::{Context, Result};
use hypha_proto::bus::{Incoming, MsgId, MsgStatus, Outgoing};
use hypha_proto::identity::NodeId;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

const OUTBOX: TableDefinition<&[u8], &[u8]> = TableDefinition::new("outbox");
const INBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("inbox");

/// An outbox entry without its payload.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OutRecord {
    /// Message id (hex).
    pub id: String,
    /// Destination node id (hex).
    pub to: String,
    /// Topic.
    pub topic: String,
    /// Answered message id (hex).
    pub reply_to: Option<String>,
    /// Wall-clock deadline, ms.
    pub deadline_ms: Option<u64>,
    /// Status name.
    pub status: String,
    /// When queued, wall-clock ms.
    pub created_ms: u64,
    /// Payload length.
    pub size: usize,
}

/// An inbox entry without its payload.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InRecord {
    /// Arrival order.
    pub seq: u64,
    /// Message id (hex).
    pub id: String,
    /// Sender node id (hex).
    pub from: String,
    /// Topic.
    pub topic: String,
    /// Answered message id (hex).
    pub reply_to: Option<String>,
    /// When it arrived, wall-clock ms.
    pub received_ms: u64,
    /// Taken by a `recv` already.
    pub read: bool,
    /// Payload length.
    pub size: usize,
}

fn encode<H: Serialize>(h: &H, payload: &[u8]) -> Vec<u8> {
    let head = serde_json::to_vec(h).expect("plain struct");
    let mut v = Vec::with_capacity(4 + head.len() + payload.len());
    v.extend_from_slice(&(head.len() as u32).to_be_bytes());
    v.extend_from_slice(&head);
    v.extend_from_slice(payload);
    v
}

fn decode<H: for<'a> Deserialize<'a>>(v: &[u8]) -> Result<(H, &[u8])> {
    let n = u32::from_be_bytes(v.get(..4).context("short record")?.try_into()?) as usize;
    let head = v.get(4..4 + n).context("short record")?;
    Ok((serde_json::from_slice(head)?, &v[4 + n..]))
}

/// Hex of a message id.
pub fn id_hex(id: &MsgId) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses 32 hex digits.
pub fn parse_id(s: &str) -> Option<MsgId> {
    if s.len() != 32 || !s.is_ascii() {
        return None;
    }
    let mut id = [0u8; 16];
    for (i, b) in id.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(id)
}

/// The database.
pub struct Store {
    db: Database,
    next_seq: u64,
}

impl Store {
    /// Opens (or creates) `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let db = Database::create(path).with_context(|| format!("opening {}", path.display()))?;
        // Messages are private: owner only, like the key file.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("making {} private", path.display()))?;
        }
        let w = db.begin_write()?;
        let next_seq = {
            w.open_table(OUTBOX)?;
            let t = w.open_table(INBOX)?;
            let last = t.last()?.map(|(k, _)| k.value());
            last.map_or(1, |s| s + 1)
        };
        w.commit()?;
        Ok(Store { db, next_seq })
    }

    /// Adds a message to the outbox.
    pub fn put_outgoing(&self, m: &Outgoing, created_ms: u64) -> Result<OutRecord> {
        let rec = OutRecord {
            id: id_hex(&m.id),
            to: m.to.to_hex(),
            topic: m.topic.clone(),
            reply_to: m.reply_to.as_ref().map(id_hex),
            deadline_ms: m.deadline_ms,
            status: MsgStatus::Queued.as_str().into(),
            created_ms,
            size: m.payload.len(),
        };
        let w = self.db.begin_write()?;
        w.open_table(OUTBOX)?
            .insert(&m.id[..], &encode(&rec, &m.payload)[..])?;
        w.commit()?;
        Ok(rec)
    }

    /// Records a status change (the payload of a finished message is dropped).
    pub fn set_status(&self, id: &MsgId, status: MsgStatus) -> Result<()> {
        let w = self.db.begin_write()?;
        {
            let mut t = w.open_table(OUTBOX)?;
            let updated = match t.get(&id[..])? {
                Some(v) => {
                    let (mut rec, payload): (OutRecord, &[u8]) = decode(v.value())?;
                    rec.status = status.as_str().into();
                    let keep: &[u8] = if status.is_final() { &[] } else { payload };
                    Some(encode(&rec, keep))
                }
                None => None,
            };
            if let Some(v) = updated {
                t.insert(&id[..], &v[..])?;
            }
        }
        w.commit()?;
        Ok(())
    }

    /// One outbox entry.
    pub fn get_outgoing(&self, id: &MsgId) -> Result<Option<OutRecord>> {
        let r = self.db.begin_read()?;
        let t = r.open_table(OUTBOX)?;
        Ok(match t.get(&id[..])? {
            Some(v) => Some(decode::<OutRecord>(v.value())?.0),
            None => None,
        })
    }

    /// Every outbox entry.
    pub fn outgoing(&self) -> Result<Vec<OutRecord>> {
        let r = self.db.begin_read()?;
        let t = r.open_table(OUTBOX)?;
        let mut v = Vec::new();
        for e in t.iter()? {
            let (_, val) = e?;
            v.push(decode::<OutRecord>(val.value())?.0);
        }
        v.sort_by_key(|r| r.created_ms);
        Ok(v)
    }

    /// Outbox messages not finished yet, with payloads (to reload the bus after a restart).
    pub fn pending_outgoing(&self) -> Result<Vec<Outgoing>> {
        let r = self.db.begin_read()?;
        let t = r.open_table(OUTBOX)?;
        let mut v = Vec::new();
        for e in t.iter()? {
            let (k, val) = e?;
            let (rec, payload): (OutRecord, &[u8]) = decode(val.value())?;
            if MsgStatus::parse(&rec.status).is_some_and(|s| s.is_final()) {
                continue;
            }
            let id: MsgId = k.value().try_into().context("bad key")?;
            v.push(Outgoing {
                id,
                to: NodeId::from_hex(&rec.to)?,
                topic: rec.topic,
                reply_to: rec.reply_to.as_deref().and_then(parse_id),
                payload: payload.to_vec(),
                deadline_ms: rec.deadline_ms,
            });
        }
        Ok(v)
    }

    /// Adds a received message to the inbox.
    pub fn add_incoming(&mut self, m: &Incoming, received_ms: u64) -> Result<InRecord> {
        let rec = InRecord {
            seq: self.next_seq,
            id: id_hex(&m.id),
            from: m.from.to_hex(),
            topic: m.topic.clone(),
            reply_to: m.reply_to.as_ref().map(id_hex),
            received_ms,
            read: false,
            size: m.payload.len(),
        };
        let w = self.db.begin_write()?;
        w.open_table(INBOX)?
            .insert(rec.seq, &encode(&rec, &m.payload)[..])?;
        w.commit()?;
        self.next_seq += 1;
        Ok(rec)
    }

    /// Every inbox entry (headers only), oldest first.
    pub fn incoming(&self) -> Result<Vec<InRecord>> {
        let r = self.db.begin_read()?;
        let t = r.open_table(INBOX)?;
        let mut v = Vec::new();
        for e in t.iter()? {
            let (_, val) = e?;
            v.push(decode::<InRecord>(val.value())?.0);
        }
        Ok(v)
    }

    /// A received message by id (32 hex digits), with its payload; not marked read.
    pub fn get_incoming(&self, id: &str) -> Result<Option<(InRecord, Vec<u8>)>> {
        let r = self.db.begin_read()?;
        let t = r.open_table(INBOX)?;
        for e in t.iter()? {
            let (_, val) = e?;
            let (rec, payload): (InRecord, &[u8]) = decode(val.value())?;
            if rec.id.eq_ignore_ascii_case(id) {
                return Ok(Some((rec, payload.to_vec())));
            }
        }
        Ok(None)
    }

    /// Takes the oldest unread message (matching `topic` if given): marks it read and
    /// returns it with its payload.
    pub fn take_unread(&self, topic: Option<&str>) -> Result<Option<(InRecord, Vec<u8>)>> {
        let w = self.db.begin_write()?;
        let found = {
            let mut t = w.open_table(INBOX)?;
            let mut hit = None;
            for e in t.iter()? {
                let (k, val) = e?;
                let (rec, payload): (InRecord, &[u8]) = decode(val.value())?;
                if !rec.read && topic.is_none_or(|tp| tp == rec.topic) {
                    hit = Some((k.value(), rec, payload.to_vec()));
                    break;
                }
            }
            if let Some((k, mut rec, payload)) = hit {
                rec.read = true;
                t.insert(k, &encode(&rec, &payload)[..])?;
                Some((rec, payload))
            } else {
                None
            }
        };
        w.commit()?;
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hypha_proto::identity::Identity;

    #[test]
    fn outbox_and_inbox_survive_reopening() {
        let dir = std::env::temp_dir().join(format!("hypha-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bus.redb");
        let a = Identity::from_seed([1; 32]).node_id();
        let m = Outgoing {
            id: [3; 16],
            to: a,
            topic: "t".into(),
            reply_to: Some([4; 16]),
            payload: vec![7; 5000],
            deadline_ms: Some(99),
        };
        {
            let mut s = Store::open(&path).unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&path).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600, "bus.redb is private");
            }
            s.put_outgoing(&m, 1).unwrap();
            s.add_incoming(
                &Incoming {
                    id: [5; 16],
                    from: a,
                    topic: "x".into(),
                    reply_to: None,
                    payload: b"hi".to_vec(),
                },
                2,
            )
            .unwrap();
        }
        let mut s = Store::open(&path).unwrap();
        assert_eq!(s.pending_outgoing().unwrap(), vec![m.clone()]);
        s.set_status(&m.id, MsgStatus::Delivered).unwrap();
        assert!(s.pending_outgoing().unwrap().is_empty());
        assert_eq!(s.outgoing().unwrap()[0].status, "delivered");
        assert!(s.take_unread(Some("other")).unwrap().is_none());
        let (got, _) = s.get_incoming(&id_hex(&[5; 16])).unwrap().unwrap();
        assert!(!got.read, "get does not mark read");
        assert!(s.get_incoming(&id_hex(&[9; 16])).unwrap().is_none());
        let (rec, p) = s.take_unread(None).unwrap().unwrap();
        assert_eq!((rec.seq, p.as_slice()), (1, &b"hi"[..]));
        assert!(s.take_unread(None).unwrap().is_none());
        let r = s
            .add_incoming(
                &Incoming {
                    id: [6; 16],
                    from: a,
                    topic: "x".into(),
                    reply_to: None,
                    payload: vec![],
                },
                3,
            )
            .unwrap();
        assert_eq!(r.seq, 2);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
