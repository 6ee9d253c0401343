//! A hostile neighbour against real daemons in network namespaces (needs root).
//!
//! ```text
//!   m (hostile) — a — b — v (victim)
//! ```
//! m runs the hidden `--debug-hostile-routes v` mode: every 100 ms it tells a that it has v's
//! /64 at metric 0 under a higher seqno (signed with its own key, or with v's signature of an
//! older seqno, or v's real signature at metric 0) and floods a with seqno requests for v; it
//! relays nothing and drops v's packets. Before route origins were signed a took the forged
//! route and every packet to v died at m.

mod lab;

use std::time::Duration;

use lab::Lab;

#[test]
fn a_hostile_neighbour_cannot_take_over_a_route() {
    let mut lab = Lab::new();
    let (a, b, v, m) = (lab.ns("a"), lab.ns("b"), lab.ns("v"), lab.ns("m"));
    let (_, _, _, ab) = lab.veth(&a, &b);
    let (_, _, bv, _) = lab.veth(&b, &v);
    let (_, _, am, _) = lab.veth(&a, &m);
    let da = lab.start(
        &a,
        "a",
        &["--no-multicast", "--peers", &format!("udp://{ab}:9651")],
    );
    let _db = lab.start(&b, "b", &["--no-multicast"]);
    let dv = lab.start(
        &v,
        "v",
        &["--no-multicast", "--peers", &format!("udp://{bv}:9651")],
    );
    let v_id = lab.d(dv).id();
    let v_addr = lab.d(dv).address();
    let dm = lab.start(
        &m,
        "m",
        &[
            "--no-multicast",
            "--peers",
            &format!("udp://{am}:9651"),
            "--debug-hostile-routes",
            &v_id,
        ],
    );
    let m_id = lab.d(dm).id();
    lab.wait(
        Duration::from_secs(15),
        "a links to m and routes to v",
        || {
            lab.d(da).linked().contains(&m_id)
                && lab.d(da).status()["routes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r["nodeId"] == v_id.as_str())
        },
    );
    // Let m's first forgeries arrive before measuring.
    std::thread::sleep(Duration::from_secs(1));
    // 20 s of pings from a to v while m keeps attacking.
    let out = lab.exec(
        &a,
        &[
            "ping", "-6", "-c", "100", "-i", "0.2", "-W", "1", "-q", &v_addr,
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let received: u32 = text
        .split(',')
        .find(|s| s.contains("received"))
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("ping output: {text}"));
    assert!(received >= 99, "lost more than 1 % of pings to v: {text}");

    let st = lab.d(da).status();
    let route = st["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["nodeId"] == v_id.as_str())
        .cloned()
        .expect("a still has a route to v");
    assert_ne!(route["nextHop"], m_id.as_str(), "a routes v through m");
    let forged = lab.d(da).counter("routing.forgedOrigins");
    let limited = lab.d(da).counter("routing.seqnoRequestsLimited");
    // Three forged updates per 100 ms for 20 s, and 400 requests/s against a limit of 256/s.
    assert!(forged >= 300, "forged origins counted: {forged}");
    assert!(limited >= 1000, "seqno requests limited: {limited}");
    assert!(lab.d_mut(da).alive(), "a survived");
}
