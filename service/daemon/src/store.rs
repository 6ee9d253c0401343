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

/// Limits on what others can put in our inbox; a message over them is refused (its sender
/// sees `failed`).
#[derive(Debug, Clone, Copy)]
pub struct Quotas {
    /// Unread messages from one sender.
    pub per_sender_messages: usize,
    /// Unread bytes from one sender.
    pub per_sender_bytes: usize,
    /// Unread bytes in all.
    pub total_bytes: usize,
    /// Read messages are deleted this long after they arrived (ms).
    pub keep_read_ms: u64,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            per_sender_messages: 1000,
            per_sender_bytes: 64 << 20,
            total_bytes: 512 << 20,
            keep_read_ms: 7 * 24 * 3600 * 1000,
        }
    }
}

/// An incoming message over a [`Quotas`] limit.
#[derive(Debug)]
pub struct QuotaExceeded(pub String);

impl std::fmt::Display for QuotaExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "inbox quota: {}", self.0)
    }
}

impl std::error::Error for QuotaExceeded {}

/// The database.
pub struct Store {
    db: Database,
    next_seq: u64,
    /// Inbox limits.
    pub quotas: Quotas,
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
        Ok(Store {
            db,
            next_seq,
            quotas: Quotas::default(),
        })
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

    /// Adds a received message to the inbox, unless it is over a quota ([`QuotaExceeded`]);
    /// read messages past their keeping time are deleted on the way.
    pub fn add_incoming(&mut self, m: &Incoming, received_ms: u64) -> Result<InRecord> {
        let q = self.quotas;
        let from_hex = m.from.to_hex();
        let w = self.db.begin_write()?;
        {
            let mut t = w.open_table(INBOX)?;
            let (mut n_from, mut bytes_from, mut bytes_all) = (0usize, 0usize, 0usize);
            let mut old = Vec::new();
            for e in t.iter()? {
                let (k, val) = e?;
                let (rec, _): (InRecord, &[u8]) = decode(val.value())?;
                if rec.read {
                    if received_ms.saturating_sub(rec.received_ms) > q.keep_read_ms {
                        old.push(k.value());
                    }
                    continue;
                }
                bytes_all += rec.size;
                if rec.from == from_hex {
                    n_from += 1;
                    bytes_from += rec.size;
                }
            }
            for k in old {
                t.remove(k)?;
            }
            let len = m.payload.len();
            let over = if n_from + 1 > q.per_sender_messages {
                Some(format!("{n_from} unread messages from {from_hex} already"))
            } else if bytes_from + len > q.per_sender_bytes {
                Some(format!("{bytes_from} unread bytes from {from_hex} already"))
            } else if bytes_all + len > q.total_bytes {
                Some(format!("{bytes_all} unread bytes already"))
            } else {
                None
            };
            if let Some(why) = over {
                drop(t);
                w.commit()?;
                return Err(QuotaExceeded(why).into());
            }
        }
        w.commit()?;
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

    /// Marks the received message `id` (32 hex digits) read; false when there is none.
    pub fn mark_read(&self, id: &str) -> Result<bool> {
        let w = self.db.begin_write()?;
        let found = {
            let mut t = w.open_table(INBOX)?;
            let mut hit = None;
            for e in t.iter()? {
                let (k, val) = e?;
                let (rec, payload): (InRecord, &[u8]) = decode(val.value())?;
                if rec.id.eq_ignore_ascii_case(id) {
                    hit = Some((k.value(), rec, payload.to_vec()));
                    break;
                }
            }
            match hit {
                Some((k, mut rec, payload)) => {
                    rec.read = true;
                    t.insert(k, &encode(&rec, &payload)[..])?;
                    true
                }
                None => false,
            }
        };
        w.commit()?;
        Ok(found)
    }

    /// The oldest unread message (matching `topic` if given) with its payload, marked read
    /// when `mark` is set.
    pub fn take_unread(
        &self,
        topic: Option<&str>,
        mark: bool,
    ) -> Result<Option<(InRecord, Vec<u8>)>> {
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
                if mark {
                    rec.read = true;
                    t.insert(k, &encode(&rec, &payload)[..])?;
                }
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

    /// Others cannot fill our disk: unread messages per sender and in all are capped, the
    /// refusal says which limit, another sender still gets in, and read messages past their
    /// keeping time are deleted.
    #[test]
    fn inbox_quotas_refuse_and_read_messages_expire() {
        let dir = std::env::temp_dir().join(format!("hypha-quota-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut s = Store::open(&dir.join("bus.redb")).unwrap();
        s.quotas = Quotas {
            per_sender_messages: 3,
            per_sender_bytes: 1000,
            total_bytes: 1500,
            keep_read_ms: 100,
        };
        let (a, b) = (
            Identity::from_seed([1; 32]).node_id(),
            Identity::from_seed([2; 32]).node_id(),
        );
        let msg = |from, i: u8, len: usize| Incoming {
            id: [i; 16],
            from,
            topic: "t".into(),
            reply_to: None,
            payload: vec![0; len],
        };
        for i in 0..3 {
            s.add_incoming(&msg(a, i, 10), 0).unwrap();
        }
        let e = s.add_incoming(&msg(a, 3, 10), 0).unwrap_err();
        assert!(e.downcast_ref::<QuotaExceeded>().is_some(), "{e:#}");
        assert!(format!("{e:#}").contains("3 unread messages"), "{e:#}");
        let e = s.add_incoming(&msg(b, 4, 1001), 0).unwrap_err();
        assert!(format!("{e:#}").contains("unread bytes from"), "{e:#}");
        s.add_incoming(&msg(b, 5, 900), 0).unwrap();
        let c = Identity::from_seed([3; 32]).node_id();
        let e = s.add_incoming(&msg(c, 6, 600), 0).unwrap_err();
        assert!(
            format!("{e:#}").contains("930 unread bytes already"),
            "{e:#}"
        );
        // Reading frees the quota; read messages go once past their keeping time.
        while s.take_unread(None, true).unwrap().is_some() {}
        s.add_incoming(&msg(a, 7, 10), 50).unwrap();
        assert_eq!(s.incoming().unwrap().len(), 5);
        s.add_incoming(&msg(a, 8, 10), 500).unwrap();
        let left: Vec<String> = s.incoming().unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(left, vec![id_hex(&[7; 16]), id_hex(&[8; 16])]);
        let _ = std::fs::remove_dir_all(&dir);
    }

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
        assert!(s.take_unread(Some("other"), true).unwrap().is_none());
        let (got, _) = s.get_incoming(&id_hex(&[5; 16])).unwrap().unwrap();
        assert!(!got.read, "get does not mark read");
        assert!(s.get_incoming(&id_hex(&[9; 16])).unwrap().is_none());
        let (rec, p) = s.take_unread(None, true).unwrap().unwrap();
        assert_eq!((rec.seq, p.as_slice()), (1, &b"hi"[..]));
        assert!(s.take_unread(None, true).unwrap().is_none());
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
