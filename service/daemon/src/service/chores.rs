//! The daemon's periodic chores (bus and trace deadlines, traffic figures, the status file,
//! interface rescans, LAN hellos) on one schedule that rides on the core's own timer.
//!
//! Each chore had its own tokio interval, each with its own phase, so an idle daemon woke
//! for every one of them besides the core's maintenance: about 44 times a second with one
//! neighbour. A chore here has a period and a slack: it runs on the first wake-up of the loop
//! at or after its due time, whatever woke the loop, and only if nothing does within the slack
//! does the loop's timer wake it for the chore alone. The core's maintenance runs at least every
//! 125 ms, so an idle daemon's chores cost no wake-up of their own (the 100 ms bus chore runs
//! about every 125 ms then).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;

use super::{Service, status, wall_micros};
use crate::config::Config;

/// One of the daemon's chores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Chore {
    /// Long-poll receives and traces that reached their deadline; expired bus messages.
    Bus,
    /// The once-a-second traffic figures for event subscribers.
    Stats,
    /// The status file.
    Status,
    /// New or vanished interfaces and addresses.
    Rescan,
    /// A signed hello to the LAN.
    Hello,
}

impl Chore {
    const ALL: [Chore; 5] = [
        Chore::Bus,
        Chore::Stats,
        Chore::Status,
        Chore::Rescan,
        Chore::Hello,
    ];

    /// How often the chore runs.
    fn period(self) -> Duration {
        match self {
            Chore::Bus => Duration::from_millis(100),
            Chore::Stats | Chore::Hello => Duration::from_secs(1),
            Chore::Status => Duration::from_millis(500),
            Chore::Rescan => Duration::from_secs(2),
        }
    }

    /// How late the chore may run: a long-poll receive answers at most this long after its
    /// deadline, the status file and the figures are at most this much older.
    fn slack(self) -> Duration {
        self.period() / 2
    }

    /// How early the chore may run: a tenth of its period. A chore that ran on the core's
    /// maintenance wake-up is due again a hair after the next one (the core reckons
    /// its next maintenance from a clock read a little earlier); without this tolerance it
    /// would miss that wake-up and take one of its own at the end of its slack.
    fn early(self) -> Duration {
        self.period() / 10
    }
}

/// When each chore is next due.
#[derive(Debug)]
pub(super) struct Chores {
    due: [Instant; Chore::ALL.len()],
    /// Chores that never run (no status file, no LAN discovery).
    off: [bool; Chore::ALL.len()],
}

impl Chores {
    /// Every chore due at `start` (as the intervals' first ticks were), but those turned off.
    pub(super) fn new(start: Instant, off: &[Chore]) -> Chores {
        Chores {
            due: [start; Chore::ALL.len()],
            off: Chore::ALL.map(|c| off.contains(&c)),
        }
    }

    /// The chores that run, with their index.
    fn on(&self) -> impl Iterator<Item = (usize, Chore)> + '_ {
        Chore::ALL
            .into_iter()
            .enumerate()
            .filter(|&(i, _)| !self.off[i])
    }

    /// The latest the loop may sleep until: the first chore's due time plus its slack.
    pub(super) fn wake_by(&self) -> Option<Instant> {
        self.on().map(|(i, c)| self.due[i] + c.slack()).min()
    }

    /// The chores that run and are due at `now`, with their index.
    fn due_at(&self, now: Instant) -> impl Iterator<Item = (usize, Chore)> + '_ {
        self.on()
            .filter(move |&(i, c)| self.due[i] <= now + c.early())
    }

    /// The chores due at `now`, each scheduled one period on from now (not from its due time:
    /// a chore that ran late is not run twice to catch up).
    pub(super) fn take_due(&mut self, now: Instant) -> Vec<Chore> {
        let due: Vec<(usize, Chore)> = self.due_at(now).collect();
        due.into_iter()
            .map(|(i, c)| {
                self.due[i] = now + c.period();
                c
            })
            .collect()
    }

    /// True when some chore is due at `now` (cheap: checked on every turn of the loop).
    pub(super) fn any_due(&self, now: Instant) -> bool {
        self.due_at(now).next().is_some()
    }
}

impl Service {
    /// Runs one chore.
    pub(super) async fn chore(&mut self, chore: Chore, cfg: &Config, local: SocketAddr) {
        match chore {
            Chore::Bus => {
                self.tick();
                self.trace_tick();
            }
            Chore::Stats => self.publish_stats(),
            Chore::Hello => {
                if let Some((m, d)) = self.mcast.as_mut() {
                    let hello = d.hello(self.node.identity(), wall_micros());
                    m.send_all(&hello).await;
                }
            }
            Chore::Rescan => {
                if let Some((m, _)) = self.mcast.as_mut() {
                    m.rescan();
                }
                let now = self.now();
                let eps = crate::mcast::local_endpoints(local.port());
                self.note_network(&eps);
                self.node.set_own_endpoints(now, eps);
                self.check_joins();
                if let Some(name) = &cfg.debug_forge_name {
                    self.gossip_forgeries(name);
                }
            }
            Chore::Status => {
                if let Some(path) = &cfg.status_file {
                    self.write_status(path);
                }
            }
        }
    }

    /// Writes the status file: the node's snapshot and the daemon's I/O figures.
    fn write_status(&self, path: &std::path::Path) {
        let mut snap = status::snapshot(
            &self.node,
            self.mcast.as_ref().map(|(_, d)| &d.counters),
            self.tun_name.as_deref(),
        );
        snap["udp"] = serde_json::json!(self.io.udp.stats);
        let g = self.io.gather.stats;
        snap["seal"] = serde_json::json!(self.io.sealer.stats);
        snap["open"] = serde_json::json!(self.io.opener.stats);
        snap["tunWrite"] = serde_json::json!({
            "gatheredWrites": g.writes,
            "gatheredPackets": g.packets,
            "failed": g.failed,
        });
        snap["loop"] = serde_json::json!({ "staleDeadlines": self.stale_deadlines });
        snap["tcp"] = serde_json::json!(
            self.hub
                .stats
                .named()
                .into_iter()
                .collect::<std::collections::BTreeMap<_, _>>()
        );
        if let Err(e) = status::write(path, &snap) {
            tracing::warn!("status file {}: {e}", path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_chores_run_once_and_wait_a_period() {
        let t0 = Instant::now();
        let mut c = Chores::new(t0, &[Chore::Hello]);
        let first = c.take_due(t0);
        assert_eq!(
            first,
            vec![Chore::Bus, Chore::Stats, Chore::Status, Chore::Rescan]
        );
        assert!(c.take_due(t0).is_empty());
        assert!(!c.any_due(t0 + Duration::from_millis(89)));
        // Ten milliseconds early is close enough.
        assert!(c.any_due(t0 + Duration::from_millis(90)));
        // The bus is the first due again; the loop may sleep until its slack runs out.
        assert_eq!(c.wake_by(), Some(t0 + Duration::from_millis(150)));
        assert_eq!(
            c.take_due(t0 + Duration::from_millis(120)),
            vec![Chore::Bus]
        );
        // Late by a lot (a busy loop): each runs once, not once per missed period.
        let late = t0 + Duration::from_secs(5);
        assert_eq!(
            c.take_due(late),
            vec![Chore::Bus, Chore::Stats, Chore::Status, Chore::Rescan]
        );
        assert_eq!(c.wake_by(), Some(late + Duration::from_millis(150)));
    }

    #[test]
    fn all_off_never_wakes() {
        let t0 = Instant::now();
        let mut c = Chores::new(t0, &Chore::ALL);
        assert_eq!(c.wake_by(), None);
        assert!(!c.any_due(t0 + Duration::from_secs(60)));
        assert!(c.take_due(t0 + Duration::from_secs(60)).is_empty());
    }
}
