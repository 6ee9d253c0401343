//! Reaching services across the mesh (needs root): a — b — c, where a runs without TUN or
//! privileges of its own (`--no-tun`, userspace TCP) and c serves HTTP on its overlay address
//! through its TUN. SOCKS5 by node id and by name, a 50 MiB port-forward download, the DNS
//! responder, forged name claims, trace, exposing a service of the TUN-less node, and bad
//! SOCKS requests.

mod lab;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hypha_ipc::api::{Request, Response};
use lab::{Lab, client, rt};

fn api(lab: &Lab, i: usize, req: Request) -> Result<Response, String> {
    rt().block_on(async {
        client(lab, i)
            .await
            .request(req)
            .await
            .map_err(|e| e.to_string())
    })
}

/// A static HTTP server in `ns`, bound to `addr:port`, serving `dir`.
fn http_server(ns: &str, addr: &str, port: u16, dir: &std::path::Path) -> Child {
    Command::new("ip")
        .args(["netns", "exec", ns, "/usr/bin/python3", "-m", "http.server"])
        .arg(port.to_string())
        .args(["--bind", addr, "--directory"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 http.server")
}

struct Kill(Vec<Child>);
impl Drop for Kill {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn stdout(o: std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Runs a small Python client in `ns` that sends `bytes` (hex) to 127.0.0.1:1080 and prints
/// the reply bytes (hex); SOCKS5 garbage cannot be sent with curl.
fn socks_raw(lab: &Lab, ns: &str, hex_bytes: &str) -> String {
    let script = format!(
        "import socket,sys\n\
         s=socket.create_connection(('127.0.0.1',1080),timeout=15)\n\
         s.sendall(bytes.fromhex('{hex_bytes}'))\n\
         out=b''\n\
         try:\n  \
           while True:\n    \
             d=s.recv(4096)\n    \
             if not d: break\n    \
             out+=d\n\
         except Exception: pass\n\
         print(out.hex())\n"
    );
    stdout(lab.exec(ns, &["/usr/bin/python3", "-c", &script]))
}

#[test]
fn socks_forwards_names_dns_and_trace() {
    let mut lab = Lab::new();
    let (a, b, c) = (lab.ns("a"), lab.ns("b"), lab.ns("c"));
    let (_, _, _, ab) = lab.veth(&a, &b);
    let (_, _, bc, _) = lab.veth(&b, &c);
    let da = lab.start(
        &a,
        "a",
        &[
            "--no-multicast",
            "--no-tun",
            "--peers",
            &format!("udp://{ab}:9651"),
        ],
    );
    // b also gossips forged claims on the name c is about to take.
    let dbf = lab.start(
        &b,
        "b",
        &["--no-multicast", "--no-tun", "--debug-forge-name", "cee"],
    );
    let dc = lab.start(
        &c,
        "c",
        &["--no-multicast", "--peers", &format!("udp://{bc}:9651")],
    );
    let (c_id, c_addr) = (lab.d(dc).id(), lab.d(dc).address());
    let a_addr = lab.d(da).address();
    let b_id = lab.d(dbf).id();

    // c claims "cee"; a learns it by gossip.
    match api(
        &lab,
        dc,
        Request::SetName {
            name: Some("cee".into()),
        },
    ) {
        Ok(Response::Names(_)) => {}
        other => panic!("set name: {other:?}"),
    }
    let took = lab.wait(Duration::from_secs(15), "a resolves cee.hypha to c", || {
        matches!(api(&lab, da, Request::Resolve { name: "cee.hypha".into() }),
            Ok(Response::Resolved(r)) if r.node_id == c_id && r.reachable)
    });
    println!("name known at a after {took:?}");
    // The forged claims reached a (through b) and were refused, not believed.
    lab.wait(Duration::from_secs(10), "a refuses forged claims", || {
        lab.d(da).counter("facts.forged") >= 1 && lab.d(da).counter("facts.untrusted") >= 1
    });
    match api(&lab, da, Request::Resolve { name: "cee".into() }) {
        Ok(Response::Resolved(r)) => assert_eq!(r.node_id, c_id, "forgeries changed nothing"),
        other => panic!("resolve: {other:?}"),
    }

    // c serves a page and a 50 MiB file on its overlay address.
    let www = lab.path("www");
    std::fs::create_dir_all(&www).unwrap();
    let page = format!("hello from cee {}\n", std::process::id());
    std::fs::write(www.join("index.html"), &page).unwrap();
    let mut big = vec![0u8; 50 << 20];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for chunk in big.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    std::fs::write(www.join("big.bin"), &big).unwrap();
    let want = stdout(
        Command::new("sha256sum")
            .arg(www.join("big.bin"))
            .output()
            .unwrap(),
    );
    let want = want.split_whitespace().next().unwrap().to_string();
    drop(big);
    let _servers = Kill(vec![http_server(&c, &c_addr, 8000, &www)]);
    lab.wait(Duration::from_secs(10), "http server on c", || {
        lab.exec(
            &c,
            &[
                "curl",
                "-s",
                "-o",
                "/dev/null",
                &format!("http://[{c_addr}]:8000/"),
            ],
        )
        .status
        .success()
    });

    // SOCKS5 from the TUN-less node, by node id and by name.
    for host in [format!("{c_id}.hypha"), "cee.hypha".to_string()] {
        let t0 = Instant::now();
        let out = lab.exec(
            &a,
            &[
                "curl",
                "-sS",
                "--max-time",
                "20",
                "--socks5-hostname",
                "127.0.0.1:1080",
                &format!("http://{host}:8000/"),
            ],
        );
        assert!(
            out.status.success(),
            "curl via {host}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), page);
        println!("socks5 GET http://{host}:8000/ in {:?}", t0.elapsed());
    }

    // A port forward: 50 MiB, checksum checked.
    match api(
        &lab,
        da,
        Request::AddForward {
            listen: "127.0.0.1:8080".into(),
            target: "cee:8000".into(),
        },
    ) {
        Ok(Response::Forwards(f)) => assert_eq!(f.forwards.len(), 1),
        other => panic!("add forward: {other:?}"),
    }
    let t0 = Instant::now();
    let got = stdout(lab.exec(
        &a,
        &[
            "sh",
            "-c",
            "curl -sS --max-time 120 http://127.0.0.1:8080/big.bin | sha256sum",
        ],
    ));
    let secs = t0.elapsed().as_secs_f64();
    assert_eq!(
        got.split_whitespace().next(),
        Some(want.as_str()),
        "50 MiB over the forward"
    );
    println!(
        "50 MiB over a port forward in {secs:.2} s ({:.1} Mbit/s)",
        50.0 * 8.388_608 / secs
    );

    // DNS.
    let dig = |name: &str, ty: &str| {
        stdout(lab.exec(
            &a,
            &[
                "dig",
                "@127.0.0.1",
                "-p",
                "5380",
                "+time=3",
                "+tries=2",
                name,
                ty,
            ],
        ))
    };
    let short = stdout(lab.exec(
        &a,
        &[
            "dig",
            "@127.0.0.1",
            "-p",
            "5380",
            "+short",
            "+time=3",
            "cee.hypha",
            "AAAA",
        ],
    ));
    assert_eq!(short, c_addr, "dig cee.hypha AAAA");
    assert!(dig("nobody.hypha", "AAAA").contains("status: NXDOMAIN"));
    assert!(dig("example.com", "A").contains("status: REFUSED"));
    // A node id is 64 digits, over DNS's 63-byte label limit: split in two labels.
    let split = format!("{}.{}.hypha", &c_id[..32], &c_id[32..]);
    assert!(dig(&split, "AAAA").contains(&c_addr), "dig {split}");

    // Trace: b, then c.
    match api(
        &lab,
        da,
        Request::Trace {
            target: "cee".into(),
            max_hops: None,
        },
    ) {
        Ok(Response::Trace(t)) => {
            let ids: Vec<_> = t
                .hops
                .iter()
                .map(|h| h.node_id.clone().unwrap_or_default())
                .collect();
            assert_eq!(ids, vec![b_id.clone(), c_id.clone()], "hops {:?}", t.hops);
            assert!(t.reached);
            assert_eq!(t.hops[1].name.as_deref(), Some("cee"));
            println!(
                "trace: {}",
                t.hops
                    .iter()
                    .map(|h| format!("{:.2} ms", h.rtt_ms.unwrap()))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        other => panic!("trace: {other:?}"),
    }

    // Expose a service of the TUN-less node; c reaches it through its TUN.
    let www_a = lab.path("www-a");
    std::fs::create_dir_all(&www_a).unwrap();
    std::fs::write(www_a.join("index.html"), "served by a\n").unwrap();
    let _servers_a = Kill(vec![http_server(&a, "127.0.0.1", 9000, &www_a)]);
    match api(
        &lab,
        da,
        Request::Expose {
            port: 9000,
            to: None,
        },
    ) {
        Ok(Response::Forwards(f)) => assert_eq!(f.exposed.len(), 1),
        other => panic!("expose: {other:?}"),
    }
    lab.wait(
        Duration::from_secs(10),
        "c reaches a's exposed port",
        || {
            let out = lab.exec(
                &c,
                &[
                    "curl",
                    "-s",
                    "--max-time",
                    "5",
                    &format!("http://[{a_addr}]:9000/"),
                ],
            );
            String::from_utf8_lossy(&out.stdout) == "served by a\n"
        },
    );

    // Bad SOCKS requests get the proper replies.
    // BIND → 07 (command not supported).
    let r = socks_raw(
        &lab,
        &a,
        &format!("0501000502000309{}1f40", hex::encode("cee.hypha")),
    );
    assert!(r.starts_with("05000507"), "BIND: {r}");
    // Unknown name → 04 (host unreachable).
    let name = "nobody.hypha";
    let req = format!("05010005010003{:02x}{}1f40", name.len(), hex::encode(name));
    let r = socks_raw(&lab, &a, &req);
    assert!(r.starts_with("05000504"), "unknown name: {r}");
    // IPv4 target → 08 (address type not supported).
    let r = socks_raw(&lab, &a, "05010005010001010a0000011f40");
    assert!(r.starts_with("05000508"), "ipv4: {r}");
    // A name outside .hypha → 02 (not allowed).
    let r = socks_raw(
        &lab,
        &a,
        &format!("05010005010003{:02x}{}0050", 11, hex::encode("example.com")),
    );
    assert!(r.starts_with("05000502"), "outside the mesh: {r}");
    // Refused port on c → 05.
    let r = socks_raw(
        &lab,
        &a,
        &format!("05010005010003{:02x}{}0001", 9, hex::encode("cee.hypha")),
    );
    assert!(r.starts_with("05000505"), "refused: {r}");
    // No acceptable auth method → FF, then closed.
    assert_eq!(socks_raw(&lab, &a, "050102"), "05ff");
    // Garbage (not SOCKS5) → closed without a reply.
    assert_eq!(
        socks_raw(&lab, &a, "474554202f20485454502f312e310d0a0d0a"),
        ""
    );
    match api(&lab, da, Request::Status) {
        Ok(Response::Status(s)) => {
            assert!(s.counters["socks.failed"] >= 5, "{:?}", s.counters);
            assert!(s.counters["socks.malformed"] >= 2, "{:?}", s.counters);
            assert!(s.counters["socks.connected"] >= 2);
            assert!(s.counters["dns.nxdomain"] >= 1 && s.counters["dns.refused"] >= 1);
        }
        other => panic!("status: {other:?}"),
    }
}
