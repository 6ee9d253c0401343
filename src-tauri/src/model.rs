//! What the tray knows about the service, as one snapshot that the window renders whole.
//!
//! The connection task ([`crate::conn`]) fills it from API answers and events; every change is
//! pushed to the window as a `snapshot` event, so the UI never polls.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;

use hypha_ipc::api;
use serde::Serialize;

/// Rate samples kept for the charts (one a second).
pub const RATE_SAMPLES: usize = 120;
/// Message texts remembered (sent from here and received), newest kept.
const MAX_TEXTS: usize = 2000;

/// Whether the service can be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ServiceState {
    /// First attempt still running.
    Connecting,
    /// Connected and subscribed.
    Up,
    /// Nothing listens on the socket.
    Down,
    /// The socket exists but this user may not use it.
    Denied,
    /// Connected, but the service answered something unusable.
    Error,
}

/// One second of traffic.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RateSample {
    /// Wall clock, ms since the Unix epoch.
    pub t_ms: u64,
    /// Received on all links, bit/s.
    pub rx_bps: u64,
    /// Sent on all links, bit/s.
    pub tx_bps: u64,
    /// Forwarded for others, bit/s.
    pub forwarded_bps: u64,
    /// Limit on forwarding (none: unlimited).
    pub limit_bps: Option<u64>,
}

/// Everything the window shows.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// Reachability of the service.
    pub service: ServiceState,
    /// When not up: what is wrong and how to fix it.
    pub problem: Option<String>,
    /// The API socket used.
    pub socket: PathBuf,
    /// The service's build, from its greeting.
    pub service_version: Option<String>,
    /// Last status answer.
    pub status: Option<api::Status>,
    /// Last peers answer.
    pub peers: Option<api::Peers>,
    /// Last routes answer.
    pub routes: Vec<api::Route>,
    /// Last sharing answer.
    pub sharing: Option<api::Sharing>,
    /// Last messages answer.
    pub messages: Option<api::Messages>,
    /// Message id → text, where known and UTF-8.
    pub texts: BTreeMap<String, String>,
    /// Recent traffic, oldest first.
    pub rates: VecDeque<RateSample>,
    /// Last firewall answer.
    pub firewall: Option<api::Firewall>,
    /// Node id → name, for every name known in the mesh.
    pub names: BTreeMap<String, String>,
}

impl Snapshot {
    /// Nothing known yet.
    pub fn new(socket: PathBuf) -> Self {
        Snapshot {
            service: ServiceState::Connecting,
            problem: None,
            socket,
            service_version: None,
            status: None,
            peers: None,
            routes: Vec::new(),
            sharing: None,
            messages: None,
            texts: BTreeMap::new(),
            rates: VecDeque::new(),
            firewall: None,
            names: BTreeMap::new(),
        }
    }

    /// Records a message's text (bounded: the oldest ids go first; ids are random, so "oldest"
    /// is approximated by dropping the smallest id, which is cheap and bounded).
    pub fn remember_text(&mut self, id: String, text: String) {
        self.texts.insert(id, text);
        while self.texts.len() > MAX_TEXTS {
            self.texts.pop_first();
        }
    }

    /// Adds a rate sample, dropping the oldest beyond [`RATE_SAMPLES`].
    pub fn push_rate(&mut self, s: RateSample) {
        self.rates.push_back(s);
        while self.rates.len() > RATE_SAMPLES {
            self.rates.pop_front();
        }
    }

    /// The tray's one-word state.
    pub fn tray_state(&self) -> TrayState {
        match (&self.service, &self.status) {
            (ServiceState::Up, Some(s)) if s.links_up > 0 => TrayState::Online,
            (ServiceState::Up, _) => TrayState::Offline,
            _ => TrayState::ServiceDown,
        }
    }

    /// The tray menu's status line.
    pub fn status_line(&self) -> String {
        match self.tray_state() {
            TrayState::Online => {
                let n = self.status.as_ref().map_or(0, |s| s.links_up);
                format!("Online: {n} neighbour{}", if n == 1 { "" } else { "s" })
            }
            TrayState::Offline => "Offline: no neighbours".into(),
            TrayState::ServiceDown => match self.service {
                ServiceState::Denied => "No permission to use hyphad".into(),
                ServiceState::Connecting => "Connecting to hyphad…".into(),
                _ => "Service down".into(),
            },
        }
    }
}

/// What the tray icon shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayState {
    /// At least one neighbour link is up.
    Online,
    /// The service runs but has no neighbours.
    Offline,
    /// The service cannot be reached.
    ServiceDown,
}

/// Decodes a payload as text when it is valid UTF-8 without control characters other than
/// whitespace (binary payloads are shown by size instead).
pub fn payload_text(payload: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(payload).ok()?;
    s.chars()
        .all(|c| !c.is_control() || c.is_whitespace())
        .then(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_text_rejects_binary() {
        assert_eq!(payload_text(b"hi\nthere").as_deref(), Some("hi\nthere"));
        assert_eq!(payload_text(&[0, 1, 2]), None);
        assert_eq!(payload_text(&[0xff, 0xfe]), None);
    }

    #[test]
    fn rates_and_texts_are_bounded() {
        let mut s = Snapshot::new("/x".into());
        for i in 0..(RATE_SAMPLES as u64 + 10) {
            s.push_rate(RateSample {
                t_ms: i,
                rx_bps: 0,
                tx_bps: 0,
                forwarded_bps: 0,
                limit_bps: None,
            });
        }
        assert_eq!(s.rates.len(), RATE_SAMPLES);
        assert_eq!(s.rates.front().unwrap().t_ms, 10);
        for i in 0..(MAX_TEXTS + 5) {
            s.remember_text(format!("{i:08}"), "t".into());
        }
        assert_eq!(s.texts.len(), MAX_TEXTS);
    }

    #[test]
    fn tray_state_follows_service_and_links() {
        let mut s = Snapshot::new("/x".into());
        assert_eq!(s.tray_state(), TrayState::ServiceDown);
        s.service = ServiceState::Up;
        assert_eq!(s.tray_state(), TrayState::Offline);
        s.status = Some(api::Status {
            node_id: String::new(),
            address: String::new(),
            subnet: String::new(),
            uptime_s: 0,
            tun: None,
            links_up: 2,
            routes: 0,
            counters: Default::default(),
            share_percent: 0,
            transit_limit_bps: None,
            name: None,
        });
        assert_eq!(s.tray_state(), TrayState::Online);
        assert_eq!(s.status_line(), "Online: 2 neighbours");
    }
}
