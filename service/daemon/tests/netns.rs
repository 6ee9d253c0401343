//! End-to-end tests of real `hyphad` processes in network namespaces (needs root).

mod lab;

use std::time::{Duration, Instant};

use hypha_proto::identity::Identity;
use hypha_proto::wire::discovery::{DiscoveryKind, DiscoveryRepr};
use lab::Lab;

const UP: Duration = Duration::from_secs(10);

fn ping(lab: &Lab, ns: &str, addr: &str) -> bool {
    lab.exec(ns, &["ping", "-6", "-c", "2", "-i", "0.2", "-W", "2", addr])
        .status
        .success()
}

#[test]
fn chain_ping_and_tcp_through_a_relay_without_tun() {
    let mut lab = Lab::new();
    let (a, b, c) = (lab.ns("a"), lab.ns("b"), lab.ns("c"));
    let (_, _, _, ab) = lab.veth(&a, &b);
    let (_, _, bc, _) = lab.veth(&b, &c);
    let _ = bc;
    let peer_b1 = format!("udp://{ab}:9651");
    let peer_b2 = "udp://10.250.2.1:9651".to_string();
    let da = lab.start(&a, "a", &["--no-multicast", "--peers", &peer_b1]);
    // b relays without a TUN device.
    let db = lab.start(&b, "b", &["--no-multicast", "--no-tun"]);
    let dc = lab.start(&c, "c", &["--no-multicast", "--peers", &peer_b2]);
    let c_addr = lab.d(dc).address();
    let c_id = lab.d(dc).id();
    lab.wait(UP, "a has a route to c", || {
        lab.d(da).status()["routes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["nodeId"] == c_id.as_str())
    });
    assert!(ping(&lab, &a, &c_addr), "ping a→c through b");
    lab.wait(Duration::from_secs(2), "b counts what it forwarded", || {
        lab.d(db).counter("counters.forwardedPackets") >= 4
    });
    let forwarded0 = lab.d(db).counter("counters.forwardedPackets");
    let in_place0 = lab.d(db).counter("counters.forwardedInPlace");
    assert!(lab.d(db).status()["tun"].is_null(), "b runs without TUN");

    // A TCP transfer over the overlay: 8 MiB, a → c, through b.
    let server = std::process::Command::new("ip")
        .args(["netns", "exec", &c, "iperf3", "-s", "-1", "-B", &c_addr])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let out = lab.exec(&a, &["iperf3", "-c", &c_addr, "-n", "8M", "-J"]);
    let mut server = server;
    let _ = server.wait();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let bytes = v["end"]["sum_sent"]["bytes"].as_u64().unwrap();
    let bps = v["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .unwrap();
    assert!(bytes >= 8 << 20, "sent {bytes}");
    // The bulk went out in batches: UDP GSO hands the kernel many datagrams per system call
    // (control traffic, one datagram per call, pulls the average down).
    lab.wait(
        Duration::from_secs(2),
        "a's status shows the transfer",
        || lab.d(da).counter("udp.sendDatagrams") >= 3000,
    );
    let (calls, datagrams) = (
        lab.d(da).counter("udp.sendCalls"),
        lab.d(da).counter("udp.sendDatagrams"),
    );
    assert!(
        datagrams >= 4 * calls,
        "{datagrams} datagrams in {calls} sends: GSO batching is not working"
    );
    println!("a→c TCP through b: {:.0} Mbit/s (debug build)", bps / 1e6);
    // b passed the bulk on from where it arrived, sealed again in place (the rest of the
    // transfer may have gone over a direct a–c link once one was punched). The status file
    // is written twice a second: let it catch up.
    lab.wait(
        Duration::from_secs(2),
        "b's status shows the transfer",
        || lab.d(db).counter("counters.forwardedPackets") >= forwarded0 + 1000,
    );
    std::thread::sleep(Duration::from_millis(600));
    let (forwarded, in_place) = (
        lab.d(db).counter("counters.forwardedPackets") - forwarded0,
        lab.d(db).counter("counters.forwardedInPlace") - in_place0,
    );
    println!("b forwarded {forwarded} packets of the transfer, {in_place} in place");
    assert!(
        in_place * 10 >= forwarded * 9,
        "b forwarded {forwarded} packets of the transfer, only {in_place} in place"
    );

    // c's TUN took the stream's segments in gathered writes, straight from where c opened
    // them, and the bytes arrived intact (the kernel trusts a gathered write's checksum, so
    // only the content can tell a wrong gather).
    let (sent, got) = python_stream(&lab, &a, &c, &c_addr, 8 << 20);
    assert!(sent.starts_with("8388608 "), "the sender ran: {sent:?}");
    assert_eq!(
        sent, got,
        "a stream of 8 MiB a→c: what a sent, what c received"
    );
    lab.wait(
        Duration::from_secs(2),
        "c's status shows the stream",
        || lab.d(dc).counter("tunWrite.gatheredPackets") >= 6000,
    );
    let (writes, packets) = (
        lab.d(dc).counter("tunWrite.gatheredWrites"),
        lab.d(dc).counter("tunWrite.gatheredPackets"),
    );
    println!("c's TUN: {packets} packets in {writes} writes");
    assert!(
        packets >= 4 * writes,
        "{packets} packets in {writes} TUN writes: segments are not gathered"
    );
    // b sent what it passed on in place and what it queued itself in counter order: c
    // refused nothing of b's as a replay (the window is finite; nothing here duplicates).
    assert_eq!(lab.d(dc).counter("counters.linkReplayed"), 0);
}

/// Streams `len` bytes (seeded pseudo-random) over TCP from `from` to `addr` in `to`, with
/// python3 at both ends; the (byte count, SHA-256) each end saw.
fn python_stream(lab: &Lab, from: &str, to: &str, addr: &str, len: usize) -> (String, String) {
    let server = format!(
        "import socket,hashlib\n\
         s=socket.socket(socket.AF_INET6)\n\
         s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
         s.bind(('{addr}',5201)); s.listen(1); s.settimeout(20)\n\
         c,_=s.accept(); c.settimeout(20); h=hashlib.sha256(); n=0\n\
         while True:\n d=c.recv(1<<16)\n if not d: break\n h.update(d); n+=len(d)\n\
         print(n,h.hexdigest())"
    );
    let srv = std::process::Command::new("ip")
        .args(["netns", "exec", to, "python3", "-c", &server])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let client = format!(
        "import socket,hashlib,random\n\
         b=random.Random(7).randbytes({len})\n\
         s=socket.create_connection(('{addr}',5201),timeout=20); s.sendall(b); s.close()\n\
         print(len(b),hashlib.sha256(b).hexdigest())"
    );
    let out = lab.exec(from, &["timeout", "30", "python3", "-c", &client]);
    let got = srv.wait_with_output().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&got.stdout).trim().to_string(),
    )
}

#[test]
fn square_reroutes_within_two_seconds_of_a_cut() {
    let mut lab = Lab::new();
    let (a, b, c, d) = (lab.ns("a"), lab.ns("b"), lab.ns("c"), lab.ns("d"));
    let (ab_a, _, _, ab_b) = lab.veth(&a, &b); // 10.250.1.x
    let (ac_a, _, _, ac_c) = lab.veth(&a, &c); // 10.250.2.x
    let (_, _, bd_b, _) = lab.veth(&b, &d); // 10.250.3.x
    let (_, _, cd_c, _) = lab.veth(&c, &d); // 10.250.4.x
    let p = |ip: &str| format!("udp://{ip}:9651");
    let _da = lab.start(
        &a,
        "a",
        &[
            "--no-multicast",
            "--peers",
            &format!("{},{}", p(&ab_b), p(&ac_c)),
        ],
    );
    let db = lab.start(&b, "b", &["--no-multicast"]);
    let dc = lab.start(&c, "c", &["--no-multicast"]);
    let dd = lab.start(
        &d,
        "d",
        &[
            "--no-multicast",
            "--peers",
            &format!("{},{}", p(&bd_b), p(&cd_c)),
        ],
    );
    let d_addr = lab.d(dd).address();
    lab.wait(UP, "a reaches d", || ping(&lab, &a, &d_addr));
    // Which relay carries a→d now?
    let (fb, fc) = (
        lab.d(db).counter("counters.forwardedPackets"),
        lab.d(dc).counter("counters.forwardedPackets"),
    );
    let (cut_if, other) = if fb > fc { (&ab_a, dc) } else { (&ac_a, db) };
    std::thread::sleep(Duration::from_millis(600)); // let the status files catch up
    let before_other = lab.d(other).counter("counters.forwardedPackets");
    // 20 pings a second for 6 s; the longest silence between two replies is the outage.
    let (replies, gap) = lab::outage(&a, &d_addr, 120, || {
        lab::run(&["ip", "-n", &a, "link", "set", cut_if, "down"]);
    });
    assert!(replies > 60, "too few replies: {replies}");
    println!("a→d outage after cutting the carrying link: {:.2} s", gap);
    assert!(gap < 2.0, "outage {gap:.2} s");
    lab.wait(
        Duration::from_secs(2),
        "the other relay carries the traffic",
        || lab.d(other).counter("counters.forwardedPackets") > before_other + 10,
    );
}

#[test]
fn two_nodes_on_one_veth_find_each_other_by_multicast() {
    let mut lab = Lab::new();
    let (a, b) = (lab.ns("a"), lab.ns("b"));
    lab.veth(&a, &b);
    let start = Instant::now();
    let da = lab.start(&a, "a", &[]);
    let db = lab.start(&b, "b", &[]);
    let took = lab.wait(Duration::from_secs(3), "discovery link", || {
        !lab.d(da).linked().is_empty() && !lab.d(db).linked().is_empty()
    });
    println!(
        "multicast discovery to link up: {:.2} s (since start: {:.2} s)",
        took.as_secs_f64(),
        start.elapsed().as_secs_f64()
    );
    let b_addr = lab.d(db).address();
    assert!(ping(&lab, &a, &b_addr));
}

/// Sends raw bytes to `[group%if]:9652` from inside `ns` (python3's stdlib socket).
fn send_discovery(lab: &Lab, ns: &str, ifname: &str, datagrams: &[Vec<u8>]) {
    let hexes: Vec<String> = datagrams.iter().map(hex::encode).collect();
    let script = format!(
        "import socket,sys\ns=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM)\n\
         for h in sys.argv[1:]:\n    s.sendto(bytes.fromhex(h),('ff02::4879:7068%{ifname}',9652))\n"
    );
    let mut cmd = vec!["python3", "-c", &script];
    cmd.extend(hexes.iter().map(String::as_str));
    let out = lab.exec(ns, &cmd);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn forged_and_replayed_hellos_are_dropped_and_counted() {
    let mut lab = Lab::new();
    let (a, x) = (lab.ns("a"), lab.ns("x"));
    let (_, ix, _, _) = lab.veth(&a, &x);
    let da = lab.start(&a, "a", &[]);
    lab.d(da).status();
    let attacker = Identity::from_seed([7; 32]);
    let mut hello = Vec::new();
    DiscoveryRepr::signed(&attacker, DiscoveryKind::Hello, 1_000, 9651, [0; 8], 0).emit(&mut hello);
    let mut forged = Vec::new();
    DiscoveryRepr::signed(&attacker, DiscoveryKind::Hello, 2_000, 9651, [0; 8], 0)
        .emit(&mut forged);
    forged[44] ^= 0x40; // the port (bytes 43..45): the signature no longer matches
    send_discovery(&lab, &x, &ix, &[hello.clone(), hello, forged]);
    lab.wait(Duration::from_secs(3), "counters", || {
        let d = lab.d(da).status()["discovery"].clone();
        d["replayed"] == 1 && d["badSignature"] == 1 && d["hellos"] == 1
    });
    // A fresh, well-signed hello from a routable (not link-local) source: hellos never leave
    // their link, so it was sent from afar on purpose and is dropped unread.
    lab::run(&[
        "ip",
        "-n",
        &x,
        "addr",
        "add",
        "fd00:99::2/64",
        "dev",
        &ix,
        "nodad",
    ]);
    let mut fresh = Vec::new();
    DiscoveryRepr::signed(&attacker, DiscoveryKind::Hello, 3_000, 9651, [0; 8], 0).emit(&mut fresh);
    let script = format!(
        "import socket,sys\ns=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM)\n\
         s.bind(('fd00:99::2',0))\n\
         s.sendto(bytes.fromhex(sys.argv[1]),('ff02::4879:7068%{ix}',9652))\n"
    );
    let out = lab.exec(&x, &["python3", "-c", &script, &hex::encode(&fresh)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    lab.wait(Duration::from_secs(3), "off-link hello counted", || {
        let d = lab.d(da).status()["discovery"].clone();
        d["offLink"] == 1 && d["hellos"] == 1
    });
}

#[test]
fn datagram_from_outside_any_link_is_not_forwarded() {
    let mut lab = Lab::new();
    let (a, b, c, x) = (lab.ns("a"), lab.ns("b"), lab.ns("c"), lab.ns("x"));
    let (_, _, _, ab) = lab.veth(&a, &b);
    let (_, _, bc, _) = lab.veth(&b, &c);
    let (_, _, xb, _) = lab.veth(&b, &x); // x is an outsider on b's LAN
    let _ = bc;
    let _da = lab.start(
        &a,
        "a",
        &["--no-multicast", "--peers", &format!("udp://{ab}:9651")],
    );
    let db = lab.start(&b, "b", &["--no-multicast"]);
    let dc = lab.start(
        &c,
        "c",
        &["--no-multicast", "--peers", "udp://10.250.2.1:9651"],
    );
    let c_id = lab.d(dc).id();
    lab.wait(UP, "b routes to c", || lab.d(db).linked().contains(&c_id));
    // A routed packet for c wrapped as a transport frame under a session index b never gave.
    let c_addr: std::net::Ipv6Addr = lab.d(dc).address().parse().unwrap();
    let mut frame = vec![
        0x04, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 0, 0, 0, 1, 0x02, 64, 0, 0, 0,
    ];
    frame.extend_from_slice(&c_addr.octets());
    frame.extend_from_slice(&[0u8; 32 + 16 + 40 + 16]);
    let before = lab.d(db).counter("counters.forwardedPackets");
    let script = format!(
        "import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
         [s.sendto(bytes.fromhex(sys.argv[1]),('{xb}',9651)) for _ in range(20)]\n"
    );
    let out = lab.exec(&x, &["python3", "-c", &script, &hex::encode(&frame)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    lab.wait(Duration::from_secs(3), "unknown index counted", || {
        lab.d(db).counter("counters.unknownIndex") >= 20
    });
    assert_eq!(lab.d(db).counter("counters.forwardedPackets"), before);
}

#[test]
fn private_network_and_allow_list_keep_others_out() {
    let mut lab = Lab::new();
    let (a, b, c) = (lab.ns("a"), lab.ns("b"), lab.ns("c"));
    let (_, _, _, ab) = lab.veth(&a, &b);
    let (_, _, bc, _) = lab.veth(&b, &c);
    let _ = bc;
    let good = lab.path("good.psk");
    let bad = lab.path("bad.psk");
    std::fs::write(&good, "correct horse battery staple\n").unwrap();
    std::fs::write(&bad, "incorrect horse battery staple\n").unwrap();
    let (good, bad) = (
        good.to_str().unwrap().to_string(),
        bad.to_str().unwrap().to_string(),
    );
    let db = lab.start(
        &b,
        "b",
        &["--no-multicast", "--network", "lab", "--psk-file", &good],
    );
    let da = lab.start(
        &a,
        "a",
        &[
            "--no-multicast",
            "--network",
            "lab",
            "--psk-file",
            &good,
            "--peers",
            &format!("udp://{ab}:9651"),
        ],
    );
    let dc = lab.start(
        &c,
        "c",
        &[
            "--no-multicast",
            "--network",
            "lab",
            "--psk-file",
            &bad,
            "--peers",
            "udp://10.250.2.1:9651",
        ],
    );
    let (a_id, c_id) = (lab.d(da).id(), lab.d(dc).id());
    lab.wait(UP, "a–b link", || lab.d(db).linked().contains(&a_id));
    // Turned away by the handshake MAC, before any Diffie-Hellman.
    lab.wait(Duration::from_secs(5), "b refuses c's handshakes", || {
        lab.d(db).counter("counters.handshakeBadMac") >= 2
    });
    assert!(!lab.d(db).linked().contains(&c_id));
    assert!(lab.d(dc).linked().is_empty());

    // Allow-list: e may link to f, g may not.
    let (e, f, g) = (lab.ns("e"), lab.ns("f"), lab.ns("g"));
    let (_, _, _, ef) = lab.veth(&e, &f);
    let (_, _, fg, _) = lab.veth(&f, &g);
    let _ = fg;
    let de = lab.start(
        &e,
        "e",
        &["--no-multicast", "--peers", &format!("udp://{ef}:9651")],
    );
    let dg = lab.start(
        &g,
        "g",
        &["--no-multicast", "--peers", "udp://10.250.4.1:9651"],
    );
    let (e_id, g_id) = (lab.d(de).id(), lab.d(dg).id());
    let df = lab.start(&f, "f", &["--no-multicast", "--allow", &e_id]);
    lab.wait(UP, "e–f link", || lab.d(df).linked().contains(&e_id));
    lab.wait(Duration::from_secs(5), "f refuses g", || {
        lab.d(df).counter("counters.refusedNotAllowed") >= 1
    });
    assert!(!lab.d(df).linked().contains(&g_id));
}

/// The SOCKS5 proxy has no authentication: listening anywhere but on loopback is allowed,
/// and said loudly.
#[test]
fn a_socks_proxy_off_loopback_is_warned_about() {
    let mut lab = Lab::new();
    let (a, b) = (lab.ns("a"), lab.ns("b"));
    let da = lab.start(
        &a,
        "a",
        &["--no-multicast", "--no-tun", "--socks", "[::]:1080"],
    );
    lab.wait(Duration::from_secs(10), "the warning", || {
        lab.d(da).log().contains("is not on loopback")
    });
    let db = lab.start(
        &b,
        "b",
        &["--no-multicast", "--no-tun", "--socks", "127.0.0.1:1081"],
    );
    lab.wait(Duration::from_secs(10), "b's proxy", || {
        lab.d(db).log().contains("SOCKS5 proxy on 127.0.0.1:1081")
    });
    assert!(!lab.d(db).log().contains("is not on loopback"));
}
