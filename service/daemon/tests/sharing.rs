//! Bandwidth sharing and priority between real `hyphad` processes (needs root).

mod lab;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hypha_ipc::api::{Request, Response};
use lab::{Lab, client, rt};

fn api(lab: &Lab, i: usize, req: Request) -> Response {
    rt().block_on(async { client(lab, i).await.request(req).await.unwrap() })
}

fn server(ns: &str, addr: &str, port: u16) -> Child {
    let c = Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            "iperf3",
            "-s",
            "-1",
            "-B",
            addr,
            "-p",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    c
}

fn iperf_client(ns: &str, addr: &str, port: u16, secs: u32) -> Child {
    iperf_paced(ns, addr, port, secs, None)
}

/// `pace`: iperf3's `-b` (e.g. `100M`), so a flow does not take all of a node's CPU.
fn iperf_paced(ns: &str, addr: &str, port: u16, secs: u32, pace: Option<&str>) -> Child {
    let (p, t) = (port.to_string(), secs.to_string());
    let mut args = vec![
        "netns", "exec", ns, "iperf3", "-c", addr, "-J", "-i", "0.5", "-p", &p, "-t", &t,
    ];
    if let Some(b) = pace {
        args.extend(["-b", b]);
    }
    Command::new("ip")
        .args(&args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Per-interval receive rates (Mbit/s, interval start s) and the overall rate.
fn rates(c: Child) -> (Vec<(f64, f64)>, f64) {
    let out = c.wait_with_output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("iperf3 JSON");
    let ivs = v["intervals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["sum"]["start"].as_f64().unwrap(),
                i["sum"]["bits_per_second"].as_f64().unwrap() / 1e6,
            )
        })
        .collect();
    (
        ivs,
        v["end"]["sum_received"]["bits_per_second"]
            .as_f64()
            .unwrap()
            / 1e6,
    )
}

fn route_to(lab: &Lab, from: usize, to: &str) -> bool {
    lab.d(from).status()["routes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["nodeId"] == to)
}

#[test]
fn the_share_limits_transit_not_own_traffic_and_follows_changes() {
    let mut lab = Lab::new();
    let (a, b, c) = (lab.ns("a"), lab.ns("b"), lab.ns("c"));
    let (_, _, _, ab) = lab.veth(&a, &b);
    let (_, _, bc, _) = lab.veth(&b, &c);
    let base = ["--no-multicast"];
    let da = lab.start(
        &a,
        "a",
        &[&base[..], &["--peers", &format!("udp://{ab}:9651")]].concat(),
    );
    let db = lab.start(
        &b,
        "b",
        &[&base[..], &["--uplink", "100mbit", "--share", "30"]].concat(),
    );
    let dc = lab.start(
        &c,
        "c",
        &[&base[..], &["--peers", &format!("udp://{bc}:9651")]].concat(),
    );
    let (c_id, c_addr) = (lab.d(dc).id(), lab.d(dc).address());
    lab.wait(Duration::from_secs(10), "a routes to c", || {
        route_to(&lab, da, &c_id)
    });
    lab.wait(Duration::from_secs(10), "b routes to c", || {
        route_to(&lab, db, &c_id)
    });

    // a→c (transit at b) and b→c (b's own) at the same time.
    let s1 = server(&c, &c_addr, 5201);
    let s2 = server(&c, &c_addr, 5202);
    let transit = iperf_client(&a, &c_addr, 5201, 4);
    // b's own flow, paced at 100 Mbit/s: far above the share, without starving b's CPU.
    let own = iperf_paced(&b, &c_addr, 5202, 4, Some("100M"));
    let (_, t) = rates(transit);
    let (_, o) = rates(own);
    for mut s in [s1, s2] {
        let _ = s.wait();
    }
    println!("b shares 30 % of 100 Mbit/s: a→c {t:.1} Mbit/s, b's own b→c {o:.1} Mbit/s");
    assert!(
        (27.0..=33.0).contains(&t),
        "transit {t:.1} Mbit/s, want 30 ± 10 %"
    );
    assert!(o > 80.0, "b's own traffic held to the share: {o:.1} Mbit/s");

    // Raise the share to 60 % two seconds into a transfer: the rate follows within a second.
    let s1 = server(&c, &c_addr, 5201);
    let transit = iperf_client(&a, &c_addr, 5201, 6);
    std::thread::sleep(Duration::from_millis(2000));
    let Response::Sharing(sh) = api(
        &lab,
        db,
        Request::Share {
            percent: Some(60),
            uplink: None,
        },
    ) else {
        panic!()
    };
    assert_eq!(sh.limit_bps, Some(60_000_000));
    let (ivs, _) = rates(transit);
    let mut s1 = s1;
    let _ = s1.wait();
    // Before: after TCP's first half second (slow start rides the bucket's burst). After: from
    // one second after the change on.
    let before: Vec<f64> = ivs
        .iter()
        .filter(|(s, _)| (0.4..1.9).contains(s))
        .map(|(_, r)| *r)
        .collect();
    let after: Vec<f64> = ivs
        .iter()
        .filter(|(s, _)| *s >= 2.9)
        .map(|(_, r)| *r)
        .collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    println!(
        "share 30→60 %: {:.1} Mbit/s before, {:.1} Mbit/s from 1 s after the change",
        mean(&before),
        mean(&after)
    );
    // The share limits IPv6 bytes; TCP goodput is that less 72 bytes of IPv6 and TCP headers
    // per packet of the default TUN MTU.
    let mtu = f64::from(hypha_proto::node::pmtu::DEFAULT_TUN_MTU);
    let goodput = |limit: f64| limit * (mtu - 72.0) / mtu;
    let near = |x: f64, want: f64| (x - want).abs() <= want * 0.10;
    assert!(near(mean(&before), goodput(30.0)), "{ivs:?}");
    assert!(near(mean(&after), goodput(60.0)), "{ivs:?}");
    // Persisted.
    let settings = std::fs::read_to_string(lab.path("b").join("settings.json")).unwrap();
    assert!(settings.contains("60"), "{settings}");
    // The rate limiter's deadlines always found tokens to release: none was left stale.
    let st = lab.d(db).status();
    assert_eq!(st["loop"]["staleDeadlines"], 0, "{}", st["loop"]);
}

#[test]
fn share_zero_is_routed_around_or_reported_unreachable() {
    let mut lab = Lab::new();
    let (a, b, c, d) = (lab.ns("a"), lab.ns("b"), lab.ns("c"), lab.ns("d"));
    let (_, _, _, ab) = lab.veth(&a, &b); // 10.250.1.x
    let (_, _, _, ad) = lab.veth(&a, &d); // 10.250.2.x
    let (_, _, bc, _) = lab.veth(&b, &c); // 10.250.3.x
    let (_, _, dc, _) = lab.veth(&d, &c); // 10.250.4.x
    let base = ["--no-multicast"];
    let da = lab.start(
        &a,
        "a",
        &[
            &base[..],
            &["--peers", &format!("udp://{ab}:9651,udp://{ad}:9651")],
        ]
        .concat(),
    );
    let db = lab.start(&b, "b", &[&base[..], &["--share", "0"]].concat());
    let dd = lab.start(&d, "d", &base);
    let dc_ = lab.start(
        &c,
        "c",
        &[
            &base[..],
            &["--peers", &format!("udp://{bc}:9651,udp://{dc}:9651")],
        ]
        .concat(),
    );
    let (c_id, c_addr) = (lab.d(dc_).id(), lab.d(dc_).address());
    lab.wait(Duration::from_secs(10), "a routes to c", || {
        route_to(&lab, da, &c_id)
    });
    let out = lab.exec(
        &a,
        &["ping", "-6", "-c", "20", "-i", "0.05", "-W", "1", &c_addr],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(
        lab.d(db).counter("counters.forwardedPackets"),
        0,
        "b shares 0 %"
    );
    // Said with the figures: this failed once in CI (d below 40 with the ping answered) and
    // never again in 6 local runs.
    let via_d = lab.d(dd).counter("counters.forwardedPackets");
    assert!(
        via_d >= 40,
        "the traffic went via d: d forwarded {via_d}; a: {}\n{}",
        lab.d(da).status()["counters"],
        String::from_utf8_lossy(&out.stdout)
    );

    // Without d there is no way through: a says so at once (ICMPv6 unreachable), no hang.
    lab.stop(dd);
    lab.wait(Duration::from_secs(5), "a drops the route to c", || {
        !route_to(&lab, da, &c_id)
    });
    let t0 = std::time::Instant::now();
    let out = lab.exec(&a, &["ping", "-6", "-c", "1", "-W", "5", &c_addr]);
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    assert!(!out.status.success());
    assert!(
        text.contains("Unreachable") || text.contains("unreachable"),
        "{text}"
    );
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "took {:?}",
        t0.elapsed()
    );
}

#[test]
fn priority_weights_split_a_saturated_share() {
    let mut lab = Lab::new();
    let (a, e, b, c) = (lab.ns("a"), lab.ns("e"), lab.ns("b"), lab.ns("c"));
    let (_, _, _, ab) = lab.veth(&a, &b); // 10.250.1.x
    let (_, _, _, eb) = lab.veth(&e, &b); // 10.250.2.x
    let (_, _, bc, _) = lab.veth(&b, &c); // 10.250.3.x
    let base = ["--no-multicast"];
    let da = lab.start(
        &a,
        "a",
        &[&base[..], &["--peers", &format!("udp://{ab}:9651")]].concat(),
    );
    let de = lab.start(
        &e,
        "e",
        &[&base[..], &["--peers", &format!("udp://{eb}:9651")]].concat(),
    );
    let db = lab.start(
        &b,
        "b",
        &[&base[..], &["--uplink", "100mbit", "--share", "40"]].concat(),
    );
    let dc = lab.start(
        &c,
        "c",
        &[&base[..], &["--peers", &format!("udp://{bc}:9651")]].concat(),
    );
    let (c_id, c_addr) = (lab.d(dc).id(), lab.d(dc).address());
    lab.wait(Duration::from_secs(10), "a and e route to c", || {
        route_to(&lab, da, &c_id) && route_to(&lab, de, &c_id)
    });
    api(
        &lab,
        db,
        Request::Priority {
            peer: lab.d(da).id(),
            weight: 3,
        },
    );
    api(
        &lab,
        db,
        Request::Priority {
            peer: lab.d(de).id(),
            weight: 1,
        },
    );
    let s1 = server(&c, &c_addr, 5201);
    let s2 = server(&c, &c_addr, 5202);
    let fa = iperf_client(&a, &c_addr, 5201, 5);
    let fe = iperf_client(&e, &c_addr, 5202, 5);
    let (ia, _) = rates(fa);
    let (ie, _) = rates(fe);
    for mut s in [s1, s2] {
        let _ = s.wait();
    }
    // Compare the saturated middle of the run (both flows active).
    let mid = |v: &[(f64, f64)]| {
        v.iter()
            .filter(|(s, _)| (1.0..4.0).contains(s))
            .map(|(_, r)| *r)
            .sum::<f64>()
    };
    let (ra, re) = (mid(&ia), mid(&ie));
    let split = ra / (ra + re);
    println!(
        "weights 3:1 → a {:.1} / e {:.1} Mbit/s: {:.0} % / {:.0} %",
        ra / 6.0,
        re / 6.0,
        split * 100.0,
        (1.0 - split) * 100.0
    );
    assert!((0.65..=0.85).contains(&split), "split {split:.2}");
}

/// No uplink configured: b's uplink toward c is shaped to 50 Mbit/s (`tc tbf`). After b's own
/// upload has run into that ceiling, b's measured uplink is within 20 % of 50; at 30 % it
/// then holds a→c through b to 15 ± 3 Mbit/s, while b's own upload is not held at all; moved
/// to another network, b measures again.
#[test]
fn the_share_applies_to_the_measured_uplink() {
    let mut lab = Lab::new();
    let (a, b, c) = (lab.ns("a"), lab.ns("b"), lab.ns("c"));
    let (_, _, _, ab) = lab.veth(&a, &b);
    let (b_to_c, _, bc, _) = lab.veth(&b, &c);
    let shaped = lab.exec(
        &b,
        &[
            "tc", "qdisc", "add", "dev", &b_to_c, "root", "tbf", "rate", "50mbit", "burst", "64kb",
            "latency", "50ms",
        ],
    );
    assert!(shaped.status.success(), "tc: {shaped:?}");
    let base = ["--no-multicast"];
    let da = lab.start(
        &a,
        "a",
        &[&base[..], &["--peers", &format!("udp://{ab}:9651")]].concat(),
    );
    let db = lab.start(&b, "b", &base);
    let dc = lab.start(
        &c,
        "c",
        &[&base[..], &["--peers", &format!("udp://{bc}:9651")]].concat(),
    );
    let (c_id, c_addr) = (lab.d(dc).id(), lab.d(dc).address());
    lab.wait(Duration::from_secs(10), "a and b route to c", || {
        route_to(&lab, da, &c_id) && route_to(&lab, db, &c_id)
    });
    let sharing = |lab: &Lab| match api(
        lab,
        db,
        Request::Share {
            percent: None,
            uplink: None,
        },
    ) {
        Response::Sharing(s) => s,
        other => panic!("{other:?}"),
    };
    assert_eq!(sharing(&lab).uplink_measured_bps, None, "nothing sent yet");

    // b uploads to c at full speed: the shaper is the ceiling.
    let s = server(&c, &c_addr, 5202);
    let (_, first) = rates(iperf_client(&b, &c_addr, 5202, 5));
    let _ = { s }.wait();
    let measured = sharing(&lab).uplink_measured_bps.expect("measured") as f64 / 1e6;
    println!("b's own upload {first:.1} Mbit/s; b measured its uplink at {measured:.1} Mbit/s");
    assert!(
        (40.0..=60.0).contains(&measured),
        "measured {measured:.1}, want 50 ± 20 %"
    );

    let Response::Sharing(sh) = api(
        &lab,
        db,
        Request::Share {
            percent: Some(30),
            uplink: None,
        },
    ) else {
        panic!()
    };
    let limit = sh.limit_bps.expect("a limit") as f64 / 1e6;
    assert!((limit - 0.3 * measured).abs() < 1.0, "limit {limit:.1}");
    let s = server(&c, &c_addr, 5201);
    let (_, t) = rates(iperf_client(&a, &c_addr, 5201, 5));
    let _ = { s }.wait();
    let s = server(&c, &c_addr, 5202);
    let (_, o) = rates(iperf_client(&b, &c_addr, 5202, 4));
    let _ = { s }.wait();
    println!("share 30 % of the measured uplink: a→c {t:.1} Mbit/s, b's own b→c {o:.1} Mbit/s");
    assert!(
        (12.0..=18.0).contains(&t),
        "transit {t:.1} Mbit/s, want 15 ± 3"
    );
    assert!(o > 35.0, "b's own upload held: {o:.1} Mbit/s");

    // On another network (b's addresses change) the old figure no longer holds: b measures
    // again, and until then nothing is limited.
    let moved = lab.exec(&b, &["ip", "addr", "add", "10.251.0.1/24", "dev", &b_to_c]);
    assert!(moved.status.success());
    lab.wait(Duration::from_secs(6), "b forgets what it measured", || {
        let s = sharing(&lab);
        s.uplink_measured_bps.is_none() && s.limit_bps.is_none()
    });
}
