//! The message bus between real `hyphad` processes in namespaces (needs root).

mod lab;

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hypha_ipc::api::{Event, Request, Response, SendRequest};
use hypha_ipc::client::Client;
use lab::{Lab, client, rt};

async fn send(c: &mut Client, to: &str, payload: &[u8], deadline_s: Option<u64>) -> String {
    match c
        .request(Request::Send(SendRequest {
            to: to.into(),
            topic: "test".into(),
            payload: B64.encode(payload),
            deadline_s,
            reply_to: None,
            id: None,
        }))
        .await
        .unwrap()
    {
        Response::Sent { id } => id,
        other => panic!("{other:?}"),
    }
}

async fn inbox_ids(c: &mut Client) -> Vec<String> {
    let Response::Messages(m) = c.request(Request::Messages).await.unwrap() else {
        panic!()
    };
    m.inbox.into_iter().map(|i| i.id).collect()
}

async fn outbox_status(c: &mut Client, id: &str) -> String {
    let Response::Messages(m) = c.request(Request::Messages).await.unwrap() else {
        panic!()
    };
    m.outbox
        .into_iter()
        .find(|o| o.id == id)
        .map(|o| o.status)
        .unwrap_or_default()
}

/// `n` xorshift bytes from state `x` (non-zero).
fn xorshift_bytes(mut x: u64, n: usize) -> Vec<u8> {
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn pseudo_random(n: usize) -> Vec<u8> {
    xorshift_bytes(0x2545_f491_4f6c_dd1d, n)
}

#[test]
fn half_a_megabyte_through_a_lossy_relay_arrives_intact() {
    let mut lab = Lab::new();
    let (a, b, c) = (lab.ns("a"), lab.ns("b"), lab.ns("c"));
    let (ia, ib1, _, ab) = lab.veth(&a, &b);
    let (ib2, ic, bc, _) = lab.veth(&b, &c);
    let args = ["--no-multicast", "--no-tun"];
    let da = lab.start(
        &a,
        "a",
        &[&args[..], &["--peers", &format!("udp://{ab}:9651")]].concat(),
    );
    let _db = lab.start(&b, "b", &args);
    let dc = lab.start(
        &c,
        "c",
        &[&args[..], &["--peers", &format!("udp://{bc}:9651")]].concat(),
    );
    let c_id = lab.d(dc).id();
    lab.wait(Duration::from_secs(10), "a routes to c", || {
        lab.d(da).status()["routes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["nodeId"] == c_id.as_str())
    });
    // 10 % loss on every link, both directions: each end drops a tenth of what it receives.
    // (nftables rather than tc netem: this kernel has no sch_netem.)
    for ns in [&a, &b, &c] {
        lab::run(&[
            "ip", "netns", "exec", ns, "nft", "add", "table", "inet", "lossy",
        ]);
        lab::run(&[
            "ip",
            "netns",
            "exec",
            ns,
            "nft",
            "add",
            "chain",
            "inet",
            "lossy",
            "in",
            "{ type filter hook input priority 0; }",
        ]);
    }
    for (ns, dev) in [(&a, &ia), (&b, &ib1), (&b, &ib2), (&c, &ic)] {
        lab::run(&[
            "ip", "netns", "exec", ns, "nft", "add", "rule", "inet", "lossy", "in", "iifname", dev,
            "meta", "l4proto", "udp", "numgen", "random", "mod", "100", "<", "10", "drop",
        ]);
    }
    let payload = pseudo_random(512 * 1024);
    rt().block_on(async {
        let mut watch = client(&lab, da).await;
        assert_eq!(
            watch.request(Request::Subscribe).await.unwrap(),
            Response::Done
        );
        let mut ca = client(&lab, da).await;
        let t0 = Instant::now();
        let id = send(&mut ca, &c_id, &payload, Some(120)).await;
        let mut seen = Vec::new();
        tokio::time::timeout(Duration::from_secs(90), async {
            while !seen.contains(&"delivered".to_string()) {
                if let Event::MessageStatus { id: mid, status } = watch.next_event().await.unwrap()
                {
                    assert_eq!(mid, id);
                    seen.push(status);
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("not delivered; statuses {seen:?}"));
        println!(
            "512 KiB a→c through b, 10 % loss per link: delivered in {:?}",
            t0.elapsed()
        );
        assert_eq!(seen, vec!["sent".to_string(), "delivered".to_string()]);
        let mut cc = client(&lab, dc).await;
        let Response::Message(Some(m)) = cc
            .request(Request::Recv {
                wait_ms: 0,
                topic: None,
                keep: false,
            })
            .await
            .unwrap()
        else {
            panic!("nothing in c's inbox")
        };
        assert_eq!(m.info.id, id);
        assert!(
            B64.decode(m.payload.as_bytes()).unwrap() == payload,
            "payload differs"
        );
        assert_eq!(outbox_status(&mut ca, &id).await, "delivered");
    });
    // The core never left the loop a deadline it did not act on (the sender's bus did, for as
    // long as a lossy transfer lasted, and the loop woke for it over and over).
    wait_for_status();
    for (d, name) in [(da, "a"), (dc, "c")] {
        let st = lab.d(d).status();
        assert_eq!(st["loop"]["staleDeadlines"], 0, "{name}: {}", st["loop"]);
    }
}

/// Long enough for the status file to catch up (written every 500 ms, up to 250 ms late).
fn wait_for_status() {
    std::thread::sleep(Duration::from_millis(1000));
}

/// A `recv` with `keep` leaves the message unread until the client marks it read: a client
/// that dies in between gets it again.
#[test]
fn recv_with_keep_is_confirmed_by_the_client() {
    let mut lab = Lab::new();
    let (a, c) = (lab.ns("a"), lab.ns("c"));
    let (_, _, _, ac) = lab.veth(&a, &c);
    let peer = format!("udp://{ac}:9651");
    let da = lab.start(&a, "a", &["--no-multicast", "--no-tun", "--peers", &peer]);
    let dc = lab.start(&c, "c", &["--no-multicast", "--no-tun"]);
    let c_id = lab.d(dc).id();
    rt().block_on(async {
        let mut ca = client(&lab, da).await;
        let id = send(&mut ca, &c_id, b"keep me", None).await;
        let mut cc = client(&lab, dc).await;
        let recv = |keep| Request::Recv {
            wait_ms: 10_000,
            topic: None,
            keep,
        };
        for _ in 0..2 {
            let Response::Message(Some(m)) = cc.request(recv(true)).await.unwrap() else {
                panic!("no message")
            };
            assert_eq!(m.info.id, id, "the same message again until confirmed");
        }
        let done = cc.request(Request::MarkRead { id: id.clone() }).await;
        assert_eq!(done.unwrap(), Response::Done);
        let none = cc
            .request(Request::Recv {
                wait_ms: 0,
                topic: None,
                keep: true,
            })
            .await
            .unwrap();
        assert_eq!(none, Response::Message(None));
        let missing = cc.request(Request::MarkRead { id: "0".repeat(32) }).await;
        assert!(missing.is_err());
    });
}

#[test]
fn a_queued_message_survives_restarts_and_is_delivered_once() {
    let mut lab = Lab::new();
    let (a, c) = (lab.ns("a"), lab.ns("c"));
    let (_, _, _, ac) = lab.veth(&a, &c);
    let a_args = [
        "--no-multicast",
        "--no-tun",
        "--peers",
        &format!("udp://{ac}:9651"),
    ]
    .map(String::from);
    let a_args: Vec<&str> = a_args.iter().map(String::as_str).collect();
    let c_args = ["--no-multicast", "--no-tun"];
    let da = lab.start(&a, "a", &a_args);
    let dc = lab.start(&c, "c", &c_args);
    let c_id = lab.d(dc).id();
    lab.wait(Duration::from_secs(10), "a–c link", || {
        lab.d(da).linked().contains(&c_id)
    });
    lab.stop(dc);
    lab.wait(Duration::from_secs(5), "a notices c is gone", || {
        lab.d(da).linked().is_empty()
    });
    let id = rt().block_on(async {
        let mut ca = client(&lab, da).await;
        let id = send(&mut ca, &c_id, b"hello after a while", Some(120)).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(outbox_status(&mut ca, &id).await, "queued");
        id
    });
    lab.restart(da, "a", &a_args);
    rt().block_on(async {
        let mut ca = client(&lab, da).await;
        assert_eq!(
            outbox_status(&mut ca, &id).await,
            "queued",
            "kept across a's restart"
        );
    });
    lab.restart(dc, "c", &c_args);
    rt().block_on(async {
        let mut ca = client(&lab, da).await;
        let t0 = Instant::now();
        while outbox_status(&mut ca, &id).await != "delivered" {
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "not delivered after c came back"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut cc = client(&lab, dc).await;
        assert_eq!(inbox_ids(&mut cc).await, vec![id.clone()], "delivered once");
    });
    // c's inbox survives c's restart, and a second start of a does not deliver it again.
    lab.restart(dc, "c", &c_args);
    lab.restart(da, "a", &a_args);
    lab.wait(Duration::from_secs(10), "a–c link again", || {
        lab.d(da).linked().contains(&c_id)
    });
    std::thread::sleep(Duration::from_secs(1));
    rt().block_on(async {
        let mut cc = client(&lab, dc).await;
        assert_eq!(inbox_ids(&mut cc).await, vec![id.clone()]);
        let Response::Message(Some(m)) = cc
            .request(Request::Recv {
                wait_ms: 0,
                topic: None,
                keep: false,
            })
            .await
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(
            B64.decode(m.payload.as_bytes()).unwrap(),
            b"hello after a while"
        );
    });
}

#[test]
fn recv_wait_returns_when_the_message_arrives_not_at_the_timeout() {
    let mut lab = Lab::new();
    let (a, c) = (lab.ns("a"), lab.ns("c"));
    let (_, _, _, ac) = lab.veth(&a, &c);
    let da = lab.start(
        &a,
        "a",
        &[
            "--no-multicast",
            "--no-tun",
            "--peers",
            &format!("udp://{ac}:9651"),
        ],
    );
    let dc = lab.start(&c, "c", &["--no-multicast", "--no-tun"]);
    let c_id = lab.d(dc).id();
    lab.wait(Duration::from_secs(10), "a–c link", || {
        lab.d(da).linked().contains(&c_id)
    });
    rt().block_on(async {
        let mut cc = client(&lab, dc).await;
        let mut ca = client(&lab, da).await;
        let t0 = Instant::now();
        let waiter = async {
            cc.request(Request::Recv {
                wait_ms: 10_000,
                topic: None,
                keep: false,
            })
            .await
            .unwrap()
        };
        let sender = async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            send(&mut ca, &c_id, b"ping", None).await
        };
        let (got, _) = tokio::join!(waiter, sender);
        let took = t0.elapsed();
        println!("recv --wait 10 returned after {took:?} (message sent at 1 s)");
        let Response::Message(Some(m)) = got else {
            panic!("{got:?}")
        };
        assert_eq!(B64.decode(m.payload.as_bytes()).unwrap(), b"ping");
        assert!(took < Duration::from_secs(3), "took {took:?}");
        // And with nothing to come, it answers at the timeout.
        let t1 = Instant::now();
        let r = cc
            .request(Request::Recv {
                wait_ms: 500,
                topic: None,
                keep: false,
            })
            .await
            .unwrap();
        assert_eq!(r, Response::Message(None));
        assert!(t1.elapsed() >= Duration::from_millis(450));
    });
}

/// Bytes that differ per `seed` (one 1 MiB message each in the kill -9 test).
fn seeded(seed: u64, n: usize) -> Vec<u8> {
    xorshift_bytes(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1, n)
}

/// Ten rounds of thirty 1 MiB messages a→c; in each, the sender or the receiver is killed with
/// SIGKILL at a pseudo-random moment (while the client is still handing messages over, or
/// mid-transfer, or after), restarted, and the client retries its sends with the same ids.
/// Every message must end `delivered`, and c's inbox must hold each exactly once, intact.
#[test]
fn kill_nine_at_random_points_loses_and_duplicates_nothing() {
    const ROUNDS: u64 = 10;
    const PER_ROUND: u64 = 30;
    const LEN: usize = 1024 * 1024;
    let mut lab = Lab::new();
    let (a, c) = (lab.ns("a"), lab.ns("c"));
    let (_, _, _, ac) = lab.veth(&a, &c);
    let a_args = [
        "--no-multicast",
        "--no-tun",
        "--peers",
        &format!("udp://{ac}:9651"),
    ]
    .map(String::from);
    let a_args: Vec<&str> = a_args.iter().map(String::as_str).collect();
    let c_args = ["--no-multicast", "--no-tun"];
    let da = lab.start(&a, "a", &a_args);
    let dc = lab.start(&c, "c", &c_args);
    let c_id = lab.d(dc).id();
    let mut x = 0x5eed_u64;
    let mut rand = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let id_of = |round: u64, i: u64| format!("{:016x}{:016x}", 0xb0_0000 + round, i);
    let req = |round: u64, i: u64| {
        Request::Send(SendRequest {
            to: c_id.clone(),
            topic: "kill9".into(),
            payload: B64.encode(seeded(round * 1000 + i, LEN)),
            deadline_s: None,
            reply_to: None,
            id: Some(id_of(round, i)),
        })
    };
    let t_all = Instant::now();
    for round in 0..ROUNDS {
        lab.wait(Duration::from_secs(20), "a–c link", || {
            lab.d(da).linked().contains(&c_id)
        });
        let (victim, name, args): (usize, &str, &[&str]) = if round % 2 == 0 {
            (dc, "c", &c_args)
        } else {
            (da, "a", &a_args)
        };
        let delay = Duration::from_millis(rand(3000));
        let t0 = Instant::now();
        // The client hands the messages over from its own thread, so the kill can land
        // between two of its sends.
        let sender = {
            let socket = lab.d(da).socket.clone();
            let reqs: Vec<Request> = (0..PER_ROUND).map(|i| req(round, i)).collect();
            std::thread::spawn(move || {
                rt().block_on(async {
                    let Ok(mut ca) = Client::connect(&socket, "test").await else {
                        return 0;
                    };
                    let mut accepted = 0;
                    for r in reqs {
                        match ca.request(r).await {
                            Ok(Response::Sent { .. }) => accepted += 1,
                            _ => break,
                        }
                    }
                    accepted
                })
            })
        };
        std::thread::sleep(delay);
        lab.kill9(victim);
        let accepted = sender.join().unwrap();
        lab.restart(victim, name, args);
        rt().block_on(async {
            let mut ca = client(&lab, da).await;
            // The client does not know what reached the outbox before the kill: it sends
            // everything again under the same ids, which queues nothing twice.
            for i in 0..PER_ROUND {
                match ca.request(req(round, i)).await.unwrap() {
                    Response::Sent { id } => assert_eq!(id, id_of(round, i)),
                    other => panic!("{other:?}"),
                }
            }
            let t1 = Instant::now();
            loop {
                let Response::Messages(m) = ca.request(Request::Messages).await.unwrap() else {
                    panic!()
                };
                let mine: Vec<_> = m
                    .outbox
                    .iter()
                    .filter(|o| o.id.starts_with(&id_of(round, 0)[..16]))
                    .collect();
                assert_eq!(mine.len() as u64, PER_ROUND, "one outbox entry per id");
                if mine.iter().all(|o| o.status == "delivered") {
                    break;
                }
                assert!(
                    t1.elapsed() < Duration::from_secs(120),
                    "round {round}: stuck: {:?}\n{}\n{}",
                    mine.iter().map(|o| &o.status).collect::<Vec<_>>(),
                    lab.d(da).log(),
                    lab.d(dc).log()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let mut cc = client(&lab, dc).await;
            let mut got = Vec::new();
            while let Response::Message(Some(m)) = cc
                .request(Request::Recv {
                    wait_ms: 0,
                    topic: None,
                    keep: false,
                })
                .await
                .unwrap()
            {
                let want = (0..PER_ROUND).find(|&i| id_of(round, i) == m.info.id);
                let i = want.unwrap_or_else(|| panic!("round {round}: unexpected {}", m.info.id));
                assert!(
                    B64.decode(m.payload.as_bytes()).unwrap() == seeded(round * 1000 + i, LEN),
                    "round {round}: message {i} differs"
                );
                got.push(i);
            }
            got.sort();
            assert_eq!(
                got,
                (0..PER_ROUND).collect::<Vec<_>>(),
                "round {round}: each message exactly once"
            );
        });
        println!(
            "round {round}: killed {name} after {delay:?} ({accepted} of {PER_ROUND} handed over), \
             all delivered once {:?} after the start",
            t0.elapsed()
        );
    }
    println!(
        "{} MiB in {ROUNDS} rounds with a kill each: {:?}",
        ROUNDS * PER_ROUND,
        t_all.elapsed()
    );
}

/// `hypha recv` with nothing waiting: exit status 2, and with `--json` the output `null` (a
/// script must not take "nothing" for a message).
#[test]
fn cli_recv_with_nothing_waiting_exits_2() {
    // The CLI is another package's binary, built next to hyphad by a workspace build.
    let hypha = std::path::Path::new(env!("CARGO_BIN_EXE_hyphad")).with_file_name("hypha");
    assert!(
        hypha.exists(),
        "{} is missing: build the workspace (cargo build --workspace) first",
        hypha.display()
    );
    let mut lab = Lab::new();
    let c = lab.ns("c");
    let dc = lab.start(&c, "c", &["--no-multicast", "--no-tun"]);
    lab.d(dc).id(); // up
    for (args, stdout) in [(&["recv", "--json"][..], "null"), (&["recv"][..], "")] {
        let out = std::process::Command::new(&hypha)
            .args(args)
            .env("HYPHA_SOCKET", &lab.d(dc).socket)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            stdout,
            "{args:?}"
        );
    }
}
