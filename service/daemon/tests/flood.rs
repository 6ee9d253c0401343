//! A spoofed handshake flood against a real `hyphad` (needs root).

mod lab;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hypha_ipc::api::{Request, Response};
use hypha_proto::identity::Identity;
use hypha_proto::link::handshake::{Handshake, NetworkKey};
use hypha_proto::wire::handshake::{COOKIE_LEN, HandshakeRepr, LINK_VERSION};
use lab::{Lab, client, rt};

/// Well-formed Inits, each with an ephemeral key of its own (a replayed one would be
/// dropped cheaply, which is not what this test is about).
fn inits(n: u32) -> Vec<u8> {
    let flooder = Identity::from_seed([99; 32]);
    let net = NetworkKey::public();
    let mut all = Vec::new();
    for k in 0..n {
        let mut seed = [7u8; 32];
        seed[..4].copy_from_slice(&k.to_be_bytes());
        let (_, msg1) = Handshake::initiate(&flooder, &net, seed).unwrap();
        let mut d = Vec::new();
        HandshakeRepr::Init {
            version: LINK_VERSION,
            sender_index: k + 1,
            cookie: [0; COOKIE_LEN],
            noise: &msg1,
        }
        .emit(&mut d);
        net.seal_handshake(&mut d);
        all.extend_from_slice(&(d.len() as u16).to_be_bytes());
        all.extend_from_slice(&d);
    }
    all
}

/// Sends the Inits in `file` to `dst`:9651 from `ns` at `rate` per second, each from a
/// different forged source in 10.99.0.0/16 (raw socket, IP header written here). Prints
/// "sent N" when done.
fn flood(ns: &str, file: &std::path::Path, dst: &str, rate: u32) -> std::process::Child {
    let script = format!(
        r#"
import socket, struct, random, time
data = open('{file}', 'rb').read()
pkts = []
i = 0
while i < len(data):
    n = struct.unpack('!H', data[i:i+2])[0]
    pkts.append(data[i+2:i+2+n])
    i += 2 + n
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
dst = socket.inet_aton('{dst}')
per_tick = {rate} // 100
sent = 0
rng = random.Random(5)
t = time.monotonic()
while sent < len(pkts):
    for p in pkts[sent:sent + per_tick]:
        src = bytes([10, 99, rng.randrange(256), rng.randrange(1, 255)])
        udp = struct.pack('!HHHH', rng.randrange(1024, 65535), 9651, 8 + len(p), 0) + p
        ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, src, dst)
        s.sendto(ip + udp, ('{dst}', 0))
    sent += len(pkts[sent:sent + per_tick])
    t += 0.01
    time.sleep(max(0, t - time.monotonic()))
print('sent', sent, flush=True)
"#,
        file = file.display()
    );
    Command::new("ip")
        .args(["netns", "exec", ns, "python3", "-c", &script])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

/// 10,000 well-formed Inits a second from forged sources hit a node for six seconds. It
/// answers with cookies (which the forgers never see) instead of handshaking with each, its
/// memory and descriptors stay flat, a real peer that dials in the middle of the flood links
/// within half a second, and pings over that link through the rest of the flood get answers.
#[test]
fn spoofed_init_flood_does_not_keep_a_real_peer_out() {
    const RATE: u32 = 10_000;
    let mut lab = Lab::new();
    let (v, x) = (lab.ns("v"), lab.ns("x"));
    let (_, _, vx, xv) = lab.veth(&v, &x);
    // The victim routes the forged sources back towards x (so reverse-path filtering keeps
    // them and its cookies leave, to be dropped there), as on the internet.
    lab::run(&["ip", "-n", &v, "route", "add", "10.99.0.0/16", "via", &xv]);
    let dv = lab.start(&v, "v", &["--no-multicast"]);
    let dp = lab.start(&x, "p", &["--no-multicast"]);
    let file = lab.path("inits.bin");
    std::fs::File::create(&file)
        .unwrap()
        .write_all(&inits(RATE * 6))
        .unwrap();
    let p_id = lab.d(dp).id();
    let (rss0, fds0) = (lab.d(dv).rss_kib(), lab.d(dv).fds());
    let mut flooder = flood(&x, &file, &vx, RATE);
    std::thread::sleep(Duration::from_millis(1500));
    let took = rt().block_on(async {
        let mut cv = client(&lab, dv).await;
        let mut cp = client(&lab, dp).await;
        let t0 = Instant::now();
        let r = cp
            .request(Request::AddPeer {
                uri: format!("udp://{vx}:9651"),
            })
            .await
            .unwrap();
        assert_eq!(r, Response::Done);
        loop {
            let Response::Peers(p) = cv.request(Request::Peers).await.unwrap() else {
                panic!()
            };
            if p.links
                .iter()
                .any(|l| l.state == "up" && l.node_id.as_deref() == Some(p_id.as_str()))
            {
                break t0.elapsed();
            }
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "the real peer did not link during the flood\n{}",
                lab.d(dv).log()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    // The link carries traffic while the flood goes on: 40 pings over two seconds.
    lab.wait(Duration::from_secs(2), "v routes to p", || {
        lab.d(dv).status()["routes"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["nodeId"] == p_id.as_str()))
    });
    let p_addr = lab.d(dp).address();
    let ping = lab.exec(
        &v,
        &[
            "ping", "-6", "-q", "-i", "0.05", "-W", "1", "-c", "40", &p_addr,
        ],
    );
    let ping_out = String::from_utf8_lossy(&ping.stdout).to_string();
    let received: u32 = ping_out
        .split(", ")
        .find_map(|f| f.strip_suffix(" received")?.parse().ok())
        .unwrap_or(0);
    let mut line = String::new();
    BufReader::new(flooder.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = flooder.wait();
    std::thread::sleep(Duration::from_millis(600)); // one more status file
    let s = lab.d(dv).status();
    let (rss1, fds1) = (lab.d(dv).rss_kib(), lab.d(dv).fds());
    let c = &s["counters"];
    let cookies = c["handshakeCookiesSent"].as_u64().unwrap_or(0);
    println!(
        "{} forged Inits at {RATE}/s: real peer linked in {took:?}, {received}/40 pings answered \
         during the flood; victim RSS {rss0} → {rss1} KiB, fds {fds0} → {fds1}; counters {c}",
        line.trim()
    );
    assert_eq!(line.trim(), format!("sent {}", RATE * 6));
    assert!(received >= 38, "pings during the flood: {ping_out}");
    assert!(took < Duration::from_millis(500), "linked after {took:?}");
    assert!(
        cookies >= RATE as u64 * 5,
        "only {cookies} cookies: was it loaded?"
    );
    assert!(fds1 <= fds0 + 4, "fds {fds0} → {fds1}");
    assert!(rss1 < rss0 + 32 * 1024, "RSS {rss0} → {rss1} KiB");
    assert!(lab.d_mut(dv).alive(), "the victim died");
}
