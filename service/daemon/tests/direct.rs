//! Direct paths between real `hyphad` processes: facts, upgrade, fallback, NAT punching.

mod lab;

use std::time::Duration;

use lab::Lab;

fn ping(lab: &Lab, ns: &str, addr: &str, n: u32) -> bool {
    lab.exec(
        ns,
        &[
            "ping",
            "-6",
            "-c",
            &n.to_string(),
            "-i",
            "0.1",
            "-W",
            "1",
            addr,
        ],
    )
    .status
    .success()
}

/// a–b–c, where a and c peer only with b, plus an a–c veth nobody configured. Returns the lab,
/// a's namespace, a's end of the a–c veth, the daemons (a, b, c), and c's id and address.
struct Shortcut {
    lab: Lab,
    a: String,
    ac_a: String,
    da: usize,
    db: usize,
    c_id: String,
    c_addr: String,
}

fn chain_with_shortcut() -> Shortcut {
    let mut lab = Lab::new();
    let (a, b, c) = (lab.ns("a"), lab.ns("b"), lab.ns("c"));
    let (_, _, _, ab) = lab.veth(&a, &b); // 10.250.1.x
    let (_, _, bc, _) = lab.veth(&b, &c); // 10.250.2.x
    let (ac_a, _, _, _) = lab.veth(&a, &c); // 10.250.3.x: a direct path nobody configured
    let base = ["--no-multicast"];
    let peer = |ip: &str| format!("udp://{ip}:9651");
    let da = lab.start(&a, "a", &[&base[..], &["--peers", &peer(&ab)]].concat());
    let db = lab.start(&b, "b", &base);
    let dc = lab.start(&c, "c", &[&base[..], &["--peers", &peer(&bc)]].concat());
    let (c_id, c_addr) = (lab.d(dc).id(), lab.d(dc).address());
    Shortcut {
        lab,
        a,
        ac_a,
        da,
        db,
        c_id,
        c_addr,
    }
}

#[test]
fn relayed_traffic_moves_to_a_direct_link() {
    let Shortcut {
        lab,
        a,
        da,
        db,
        c_id,
        c_addr,
        ..
    } = chain_with_shortcut();
    lab.wait(Duration::from_secs(10), "a reaches c through b", || {
        ping(&lab, &a, &c_addr, 1)
    });
    let took = lab.wait(Duration::from_secs(10), "a direct a–c link", || {
        ping(&lab, &a, &c_addr, 1);
        lab.d(da).linked().contains(&c_id)
    });
    println!(
        "direct a–c link {:.2} s after traffic started",
        took.as_secs_f64()
    );
    assert!(lab.d(da).counter("counters.directAttempts") >= 1);
    assert!(lab.d(da).counter("facts.accepted") >= 1);
    // Traffic now bypasses b.
    std::thread::sleep(Duration::from_millis(1500));
    let before = lab.d(db).counter("counters.forwardedPackets");
    assert!(ping(&lab, &a, &c_addr, 20));
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(
        lab.d(db).counter("counters.forwardedPackets"),
        before,
        "b still relays a→c"
    );
}

#[test]
fn traffic_falls_back_to_the_relay_when_the_direct_link_dies() {
    let Shortcut {
        lab,
        a,
        ac_a,
        da,
        c_id,
        c_addr,
        ..
    } = chain_with_shortcut();
    lab.wait(Duration::from_secs(20), "a direct a–c link", || {
        ping(&lab, &a, &c_addr, 1);
        lab.d(da).linked().contains(&c_id)
    });
    let (replies, gap) = lab::outage(&a, &c_addr, 100, || {
        lab::run(&["ip", "-n", &a, "link", "set", &ac_a, "down"]);
    });
    println!("fallback to the relay after cutting the direct link: {gap:.2} s");
    assert!(
        replies > 60 && gap < 2.0,
        "{replies} replies, gap {gap:.2} s"
    );
}

/// Masquerades everything leaving `ns` on `out_if` (endpoint-independent mapping: Linux keeps
/// the source port when it is free).
fn nat(lab: &Lab, ns: &str, out_if: &str) {
    for cmd in [
        vec!["sysctl", "-qw", "net.ipv4.ip_forward=1"],
        vec!["nft", "add", "table", "ip", "nat"],
        vec![
            "nft",
            "add",
            "chain",
            "ip",
            "nat",
            "post",
            "{ type nat hook postrouting priority 100; }",
        ],
        vec![
            "nft",
            "add",
            "rule",
            "ip",
            "nat",
            "post",
            "oifname",
            out_if,
            "masquerade",
        ],
    ] {
        let mut full = vec!["ip", "netns", "exec", ns];
        full.extend(cmd);
        lab::run(&full);
    }
    let _ = lab;
}

#[test]
fn two_nodes_behind_nats_punch_a_direct_link() {
    let mut lab = Lab::new();
    let (a, na, b, nc, c) = (
        lab.ns("a"),
        lab.ns("na"),
        lab.ns("b"),
        lab.ns("nc"),
        lab.ns("c"),
    );
    let (_, _, a_ip, na_in) = lab.veth(&a, &na); // 10.250.1.x (private, behind na)
    let (na_out, _, na_pub, b_na) = lab.veth(&na, &b); // 10.250.2.x (public)
    let (nc_out, _, nc_pub, b_nc) = lab.veth(&nc, &b); // 10.250.3.x (public)
    let (_, _, c_ip, nc_in) = lab.veth(&c, &nc); // 10.250.4.x (private, behind nc)
    let _ = (a_ip, c_ip);
    // Routing: the private hosts default to their NAT, the NATs to b, b forwards between.
    lab::run(&["ip", "-n", &a, "route", "add", "default", "via", &na_in]);
    lab::run(&["ip", "-n", &c, "route", "add", "default", "via", &nc_in]);
    lab::run(&["ip", "-n", &na, "route", "add", "default", "via", &b_na]);
    lab::run(&["ip", "-n", &nc, "route", "add", "default", "via", &b_nc]);
    lab::run(&[
        "ip",
        "netns",
        "exec",
        &b,
        "sysctl",
        "-qw",
        "net.ipv4.ip_forward=1",
    ]);
    nat(&lab, &na, &na_out);
    nat(&lab, &nc, &nc_out);
    let _ = (na_pub, nc_pub);
    let base = ["--no-multicast"];
    let da = lab.start(
        &a,
        "a",
        &[&base[..], &["--peers", &format!("udp://{b_na}:9651")]].concat(),
    );
    let db = lab.start(&b, "b", &base);
    let dc = lab.start(
        &c,
        "c",
        &[&base[..], &["--peers", &format!("udp://{b_nc}:9651")]].concat(),
    );
    let (c_id, c_addr) = (lab.d(dc).id(), lab.d(dc).address());
    lab.wait(Duration::from_secs(10), "a reaches c through b", || {
        ping(&lab, &a, &c_addr, 1)
    });
    let took = lab.wait(Duration::from_secs(20), "a punched a–c link", || {
        ping(&lab, &a, &c_addr, 1);
        lab.d(da).linked().contains(&c_id)
    });
    println!(
        "punched a–c link through two NATs {:.2} s after traffic started",
        took.as_secs_f64()
    );
    std::thread::sleep(Duration::from_millis(1500));
    let before = lab.d(db).counter("counters.forwardedPackets");
    assert!(ping(&lab, &a, &c_addr, 20));
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(
        lab.d(db).counter("counters.forwardedPackets"),
        before,
        "b's daemon still relays a→c"
    );
}
