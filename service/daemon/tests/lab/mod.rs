//! A small network lab for tests: network namespaces joined by veth pairs, real `hyphad`
//! processes inside them, and cleanup on drop. Traffic stays inside the namespaces the lab
//! creates (underlay addresses are 10.250.x.y inside them).

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Fails the test loudly when not root: these tests need namespaces, and a skip must not look
/// like a pass.
pub fn require_root() {
    let uid = unsafe_free_uid();
    assert_eq!(uid, 0, "netns tests need root (CI runs them as root)");
}

fn unsafe_free_uid() -> u32 {
    let s = std::fs::read_to_string("/proc/self/status").expect("procfs");
    s.lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|u| u.parse().ok())
        .expect("uid")
}

/// A running daemon.
pub struct Daemon {
    /// Its namespace.
    pub ns: String,
    /// Its status file.
    pub status_path: PathBuf,
    /// Its log file.
    pub log_path: PathBuf,
    /// Its API socket.
    pub socket: PathBuf,
    child: Child,
}

impl Daemon {
    /// The latest status snapshot (waits up to 5 s for the first one).
    pub fn status(&self) -> Value {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Ok(b) = std::fs::read(&self.status_path)
                && let Ok(v) = serde_json::from_slice::<Value>(&b)
            {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "no status from daemon in {}: {}",
                self.ns,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Open file descriptors of the daemon process.
    pub fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// Resident memory of the daemon process, KiB.
    pub fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Overlay address.
    pub fn address(&self) -> String {
        self.status()["address"].as_str().unwrap().to_string()
    }

    /// Node id (hex).
    pub fn id(&self) -> String {
        self.status()["nodeId"].as_str().unwrap().to_string()
    }

    /// Node ids of links that are up.
    pub fn linked(&self) -> Vec<String> {
        self.status()["links"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["state"] == "up")
            .filter_map(|l| l["nodeId"].as_str().map(String::from))
            .collect()
    }

    /// A counter from the status snapshot, e.g. `counters.forwardedPackets`.
    pub fn counter(&self, path: &str) -> u64 {
        let mut v = self.status();
        for p in path.split('.') {
            v = v[p].clone();
        }
        v.as_u64().unwrap_or_else(|| panic!("no counter {path}"))
    }

    /// True while the process runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

/// The lab.
pub struct Lab {
    tag: String,
    namespaces: Vec<String>,
    daemons: Vec<Daemon>,
    dir: PathBuf,
    links: u32,
}

impl Lab {
    /// A new empty lab.
    pub fn new() -> Lab {
        require_root();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let tag = format!("h{}x{n}", std::process::id() % 100_000);
        let dir = std::env::temp_dir().join(format!("hypha-lab-{tag}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Lab {
            tag,
            namespaces: Vec::new(),
            daemons: Vec::new(),
            dir,
            links: 0,
        }
    }

    /// Creates namespace `name` (returned with the lab's prefix).
    pub fn ns(&mut self, name: &str) -> String {
        let full = format!("{}{name}", self.tag);
        run(&["ip", "netns", "add", &full]);
        run(&["ip", "-n", &full, "link", "set", "lo", "up"]);
        self.namespaces.push(full.clone());
        full
    }

    /// Joins two namespaces with a veth pair; returns the interface names (in a, in b).
    /// Addresses are `10.250.<k>.1/24` in `a` and `.2` in `b`, where k is the pair number.
    pub fn veth(&mut self, a: &str, b: &str) -> (String, String, String, String) {
        self.links += 1;
        let k = self.links;
        let (ia, ib) = (format!("{}a{k}", self.tag), format!("{}b{k}", self.tag));
        assert!(ia.len() <= 15, "interface name too long: {ia}");
        run(&[
            "ip", "link", "add", &ia, "type", "veth", "peer", "name", &ib,
        ]);
        run(&["ip", "link", "set", &ia, "netns", a]);
        run(&["ip", "link", "set", &ib, "netns", b]);
        let (aa, ab) = (format!("10.250.{k}.1"), format!("10.250.{k}.2"));
        run(&[
            "ip",
            "-n",
            a,
            "addr",
            "add",
            &format!("{aa}/24"),
            "dev",
            &ia,
        ]);
        run(&[
            "ip",
            "-n",
            b,
            "addr",
            "add",
            &format!("{ab}/24"),
            "dev",
            &ib,
        ]);
        run(&["ip", "-n", a, "link", "set", &ia, "up"]);
        run(&["ip", "-n", b, "link", "set", &ib, "up"]);
        // The network is ready once IPv6 duplicate address detection has finished on both
        // ends (link-local addresses stay "tentative" and unusable for about a second).
        for (ns, i) in [(a, &ia), (b, &ib)] {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let out = Command::new("ip")
                    .args(["-n", ns, "-6", "addr", "show", "dev", i])
                    .output()
                    .unwrap();
                let text = String::from_utf8_lossy(&out.stdout);
                if text.contains("fe80") && !text.contains("tentative") {
                    break;
                }
                assert!(Instant::now() < deadline, "DAD never finished on {i}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        (ia, ib, aa, ab)
    }

    /// A file in the lab's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Starts `hyphad` in `ns` with a key file and status file of its own, plus `args`. The
    /// inbound firewall lets everyone in unless `args` say otherwise: most tests are about
    /// something else (the firewall's own test sets `--incoming`).
    pub fn start(&mut self, ns: &str, name: &str, args: &[&str]) -> usize {
        let status_path = self.path(&format!("{name}.json"));
        let log_path = self.path(&format!("{name}.log"));
        // Each daemon's state (key, peers, bus database) lives in a directory of its own.
        let state = self.path(name);
        std::fs::create_dir_all(&state).unwrap();
        let key = state.join("key");
        let socket = self.path(&format!("{name}.sock"));
        let _ = std::fs::remove_file(&status_path);
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", ns, env!("CARGO_BIN_EXE_hyphad")])
            .arg("--config")
            .arg(self.path("none.toml"))
            .arg("--key-file")
            .arg(&key)
            .arg("--status-file")
            .arg(&status_path)
            .arg("--ipc-socket")
            .arg(&socket)
            .args(if args.contains(&"--incoming") {
                &[][..]
            } else {
                &["--incoming", "everyone"][..]
            })
            .args(args)
            .env("HYPHA_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn hyphad");
        self.daemons.push(Daemon {
            ns: ns.to_string(),
            status_path,
            log_path,
            socket,
            child,
        });
        self.daemons.len() - 1
    }

    /// A daemon by index.
    pub fn d(&self, i: usize) -> &Daemon {
        &self.daemons[i]
    }

    /// A daemon by index, mutably.
    pub fn d_mut(&mut self, i: usize) -> &mut Daemon {
        &mut self.daemons[i]
    }

    /// Starts a stopped daemon again with the same files and `args`.
    pub fn restart(&mut self, i: usize, name: &str, args: &[&str]) {
        self.stop(i);
        let ns = self.daemons[i].ns.clone();
        let j = self.start(&ns, name, args);
        let d = self.daemons.remove(j);
        self.daemons[i] = d;
    }

    /// Stops a daemon (SIGTERM, then waits).
    pub fn stop(&mut self, i: usize) {
        let d = &mut self.daemons[i];
        if matches!(d.child.try_wait(), Ok(Some(_))) {
            return; // already gone (killed by the test)
        }
        let _ = Command::new("kill").arg(d.child.id().to_string()).status();
        let _ = d.child.wait();
    }

    /// Kills a daemon with SIGKILL (no chance to flush or say goodbye), then reaps it.
    pub fn kill9(&mut self, i: usize) {
        let d = &mut self.daemons[i];
        let _ = d.child.kill();
        let _ = d.child.wait();
    }

    /// Runs a command inside `ns`.
    pub fn exec(&self, ns: &str, cmd: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", ns])
            .args(cmd)
            .output()
            .expect("ip netns exec")
    }

    /// Runs the CLI, `hypha ARGS… --socket` against daemon `name`'s API: its standard output,
    /// or its error. (`hypha` is another package's binary, built beside `hyphad` by a workspace
    /// build.)
    pub fn cli(&self, name: &str, args: &[&str]) -> Result<String, String> {
        let bin = std::path::Path::new(env!("CARGO_BIN_EXE_hyphad")).with_file_name("hypha");
        let out = Command::new(bin)
            .args(args)
            .arg("--socket")
            .arg(self.path(&format!("{name}.sock")))
            .output()
            .expect("hypha");
        match out.status.success() {
            true => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
            false => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
        }
    }

    /// Waits until `cond` holds, or panics with `what` after `timeout`.
    pub fn wait(&self, timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) -> Duration {
        let start = Instant::now();
        loop {
            if cond() {
                return start.elapsed();
            }
            if start.elapsed() > timeout {
                // The status snapshot too: its counters (direct attempts, handshakes, drops)
                // say what a daemon tried, which its log often does not.
                let logs: Vec<String> = self
                    .daemons
                    .iter()
                    .map(|d| {
                        let status = std::fs::read_to_string(&d.status_path).unwrap_or_default();
                        format!(
                            "--- {} ---\n{}\n--- {} ---\n{}",
                            d.status_path.display(),
                            status,
                            d.log_path.display(),
                            d.log()
                        )
                    })
                    .collect();
                panic!(
                    "timed out after {timeout:?} waiting for {what}\n{}",
                    logs.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for d in &mut self.daemons {
            let _ = d.child.kill();
            let _ = d.child.wait();
        }
        for ns in &self.namespaces {
            // Deleting a namespace's name does not stop what runs in it (an iperf3 server
            // that never got its client, say): stop those first.
            if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-9", pid]).status();
                }
            }
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A single-threaded runtime for API calls from a test.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// An API client of daemon `i`, waiting up to 10 s for its socket.
pub async fn client(lab: &Lab, i: usize) -> hypha_ipc::client::Client {
    for _ in 0..200 {
        if let Ok(c) = hypha_ipc::client::Client::connect(&lab.d(i).socket, "test").await {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no API socket: {}", lab.d(i).log());
}

/// Pings `addr` from `ns` 20 times a second (`count` pings, timestamps on), runs `during`
/// after the first second, and returns (replies, longest silence between two replies in s).
/// A count rather than a deadline: `ping -w` gives up at the first ICMP error.
pub fn outage(ns: &str, addr: &str, count: u32, during: impl FnOnce()) -> (usize, f64) {
    let pinger = Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            "ping",
            "-6",
            "-D",
            "-i",
            "0.05",
            "-W",
            "1",
            "-c",
            &count.to_string(),
            addr,
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("ping");
    std::thread::sleep(Duration::from_millis(1000));
    during();
    let out = pinger.wait_with_output().expect("ping output");
    let times: Vec<f64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("bytes from"))
        .filter_map(|l| l.strip_prefix('[')?.split(']').next()?.parse().ok())
        .collect();
    let gap = times.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    (times.len(), gap)
}

/// Runs a command that must succeed.
pub fn run(cmd: &[&str]) {
    let out = Command::new(cmd[0]).args(&cmd[1..]).output().expect(cmd[0]);
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
