//! TCP links in real namespaces (needs root): a link over `tcp://`, and a listener that idle
//! and garbage connections from a stranger cannot exhaust.

mod lab;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hypha_ipc::api::{Request, Response};
use lab::{Lab, client, rt};

const UP: Duration = Duration::from_secs(10);

/// Opens `n` TCP connections from namespace `ns` to `host:9651` and holds them; the last 50
/// send a frame that is no link datagram. Prints "open N" once they are all made.
fn hold_connections(ns: &str, host: &str, n: usize) -> std::process::Child {
    let script = format!(
        "import socket, time\n\
         socks = []\n\
         for i in range({n}):\n    \
             try:\n        socks.append(socket.create_connection(('{host}', 9651), timeout=2))\n    \
             except OSError:\n        pass\n\
         for s in socks[-50:]:\n    \
             try:\n        s.send(b'\\x00\\x05hello')\n    \
             except OSError:\n        pass\n\
         print('open', len(socks), flush=True)\n\
         time.sleep(60)\n"
    );
    Command::new("ip")
        .args(["netns", "exec", ns, "bash", "-c"])
        .arg(format!("ulimit -n 8192; exec python3 -c \"{script}\""))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// a links to b over `tcp://` and pings through it. Then a stranger in c opens 3,000
/// connections to b's TCP port and holds them (50 of them sending garbage): b keeps at most
/// 256 of them (fds stay bounded), its API still answers within a second, and a new node in c
/// that dials b over TCP links within two seconds.
#[test]
fn tcp_links_work_and_idle_strangers_cannot_crowd_out_peers() {
    let mut lab = Lab::new();
    let (a, b, c) = (lab.ns("a"), lab.ns("b"), lab.ns("c"));
    let (_, _, _, ab) = lab.veth(&a, &b);
    let (_, _, _, cb) = lab.veth(&c, &b);
    let db = lab.start(&b, "b", &["--no-multicast"]);
    let peer = format!("tcp://{ab}:9651");
    let da = lab.start(&a, "a", &["--no-multicast", "--peers", &peer]);
    let b_id = lab.d(db).id();
    lab.wait(UP, "a links to b over TCP", || {
        lab.d(da).linked().contains(&b_id)
    });
    let b_addr = lab.d(db).address();
    let ping = lab.exec(
        &a,
        &["ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", &b_addr],
    );
    assert!(ping.status.success(), "ping a→b over a TCP link");

    let rss0 = lab.d(db).rss_kib();
    let mut holder = hold_connections(&c, &cb, 3000);
    let mut line = String::new();
    {
        use std::io::BufRead;
        let out = holder.stdout.take().unwrap();
        std::io::BufReader::new(out).read_line(&mut line).unwrap();
    }
    let opened: usize = line.trim().trim_start_matches("open ").parse().unwrap_or(0);
    assert!(
        opened >= 1000,
        "the stranger opened only {opened} connections: {line}"
    );

    // The API answers at once.
    let t = Instant::now();
    rt().block_on(async {
        let mut cl = client(&lab, db).await;
        let r = cl.request(Request::Status).await.unwrap();
        assert!(matches!(r, Response::Status(_)));
    });
    let api = t.elapsed();
    assert!(api < Duration::from_secs(1), "API answered in {api:?}");
    let fds = lab.d(db).fds();
    assert!(fds < 256 + 100, "b holds {fds} file descriptors");
    let rss1 = lab.d(db).rss_kib();
    assert!(rss1 < rss0 + 64 * 1024, "b's RSS grew {rss0} → {rss1} KiB");

    // A real peer dialling over TCP in the middle of it links within two seconds.
    let peer_c = format!("tcp://{cb}:9651");
    let dc = lab.start(&c, "c", &["--no-multicast", "--no-tun", "--peers", &peer_c]);
    let c_id = lab.d(dc).id();
    let took = lab.wait(Duration::from_secs(2), "c links to b over TCP", || {
        lab.d(db).linked().contains(&c_id)
    });
    let s = lab.d(db).status();
    let tcp = &s["tcp"];
    println!(
        "{opened} stranger connections: API {api:?}, {fds} fds, RSS {rss0} → {rss1} KiB, new TCP peer linked in {took:?}; {tcp}"
    );
    assert!(tcp["tcp_evicted"].as_u64().unwrap_or(0) >= 1000, "{tcp}");
    assert!(tcp["tcp_garbage"].as_u64().unwrap_or(0) >= 1, "{tcp}");
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(lab.d(da).linked().contains(&b_id), "a's TCP link survived");

    // One stranger that connects and says nothing is closed after the 5 s handshake deadline.
    let before = lab.d(db).status()["tcp"]["tcp_handshake_timeouts"]
        .as_u64()
        .unwrap_or(0);
    let silent = lab.exec(
        &c,
        &[
            "python3",
            "-c",
            &format!(
                "import socket,time\ns=socket.create_connection(('{cb}',9651))\nt=time.time()\n\
                 s.settimeout(8)\ntry:\n    r=s.recv(1)\nexcept ConnectionResetError:\n    r=b''\n\
                 print('closed' if r==b'' else 'data', round(time.time()-t,1))"
            ),
        ],
    );
    let said = String::from_utf8_lossy(&silent.stdout).to_string();
    let secs: f64 = said
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0);
    assert!(said.starts_with("closed"), "{said:?}");
    assert!((4.5..7.0).contains(&secs), "closed after {secs} s");
    lab.wait(Duration::from_secs(2), "handshake timeout counted", || {
        lab.d(db).status()["tcp"]["tcp_handshake_timeouts"]
            .as_u64()
            .unwrap_or(0)
            > before
    });
}
