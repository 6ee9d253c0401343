//! The inbound firewall between real `hyphad` processes with TUN devices (needs root).

mod lab;

use std::process::{Command, Stdio};
use std::time::Duration;

use lab::{Lab, require_root};

/// Serves TCP and UDP on `[::]:PORT` (every address, the overlay's included): says "hi" to
/// each connection and datagram.
const SERVER: &str = r#"
import socket, sys, threading
port = int(sys.argv[1])
def tcp():
    s = socket.socket(socket.AF_INET6)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", port)); s.listen()
    while True:
        c, _ = s.accept(); c.sendall(b"hi"); c.close()
threading.Thread(target=tcp, daemon=True).start()
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
u.bind(("::", port))
while True:
    d, a = u.recvfrom(100); u.sendto(b"hi", a)
"#;

/// Prints "hi" if HOST PORT answers over PROTO within 2 s, else "blocked".
const CLIENT: &str = r#"
import socket, sys
host, port, proto = sys.argv[1], int(sys.argv[2]), sys.argv[3]
try:
    if proto == "tcp":
        s = socket.create_connection((host, port), timeout=2)
        print(s.recv(10).decode())
    else:
        u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        u.settimeout(2)
        u.sendto(b"x", (host, port))
        print(u.recv(10).decode())
except OSError:
    print("blocked")
"#;

fn serve(ns: &str, port: u16) -> std::process::Child {
    Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            "python3",
            "-c",
            SERVER,
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 server")
}

fn reach(lab: &Lab, ns: &str, addr: &str, port: u16, proto: &str) -> bool {
    let out = lab.exec(
        ns,
        &["python3", "-c", CLIENT, addr, &port.to_string(), proto],
    );
    let said = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(said == "hi" || said == "blocked", "client said {said:?}");
    said == "hi"
}

/// `hypha ARGS…` against `daemon`, which must succeed: its standard output.
fn hypha(lab: &Lab, daemon: &str, args: &[&str]) -> String {
    lab.cli(daemon, args)
        .unwrap_or_else(|e| panic!("hypha {args:?}: {e}"))
}

fn ping(lab: &Lab, ns: &str, addr: &str) -> bool {
    lab.exec(ns, &["ping", "-c", "2", "-i", "0.2", "-W", "2", addr])
        .status
        .success()
}

/// a keeps the default (`contacts`); c lets everyone in. Services on a bound to `[::]` are
/// closed to c until a opens a port to it by name or makes it a contact; a's own connections
/// to c get their answers; ping passes; the drops are counted.
#[test]
fn strangers_cannot_reach_host_services_until_allowed() {
    require_root();
    let mut lab = Lab::new();
    let (a, c) = (lab.ns("a"), lab.ns("c"));
    let (_, _, _, c_under) = lab.veth(&a, &c);
    let peer = format!("udp://{c_under}:9651");
    let da = lab.start(
        &a,
        "a",
        &["--no-multicast", "--peers", &peer, "--incoming", "contacts"],
    );
    let dc = lab.start(&c, "c", &["--no-multicast", "--incoming", "everyone"]);
    let (a_addr, c_addr) = (lab.d(da).address(), lab.d(dc).address());
    lab.wait(Duration::from_secs(10), "a and c linked", || {
        !lab.d(da).linked().is_empty() && !lab.d(dc).linked().is_empty()
    });
    hypha(&lab, "c", &["name", "set", "c"]);
    let mut servers = vec![serve(&a, 22), serve(&c, 8080)];
    lab.wait(Duration::from_secs(5), "a reaches c's service", || {
        reach(&lab, &a, &c_addr, 8080, "tcp")
    });

    // Closed to c, over TCP and UDP; ping passes both ways.
    assert!(!reach(&lab, &c, &a_addr, 22, "tcp"), "TCP from c got in");
    assert!(!reach(&lab, &c, &a_addr, 22, "udp"), "UDP from c got in");
    assert!(ping(&lab, &c, &a_addr), "ping c→a");
    assert!(ping(&lab, &a, &c_addr), "ping a→c");
    // a's own connections and datagrams to c get their answers.
    assert!(reach(&lab, &a, &c_addr, 8080, "tcp"));
    assert!(reach(&lab, &a, &c_addr, 8080, "udp"));
    lab.wait(Duration::from_secs(2), "the drops in a's status", || {
        lab.d(da).counter("firewall.droppedTcp") >= 1
            && lab.d(da).counter("firewall.droppedUdp") >= 1
    });

    // Opened by name, port 22 only.
    lab.wait(Duration::from_secs(15), "a knows c's name", || {
        hypha(&lab, "a", &["name"]).contains("c.hypha")
    });
    let shown = hypha(&lab, "a", &["firewall", "allow", "c", "22"]);
    assert!(shown.contains("allow     c.hypha"), "{shown}");
    assert!(reach(&lab, &c, &a_addr, 22, "tcp"), "TCP after allow");
    assert!(reach(&lab, &c, &a_addr, 22, "udp"), "UDP after allow");
    servers.push(serve(&a, 23));
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !reach(&lab, &c, &a_addr, 23, "tcp"),
        "port 23 was not opened"
    );

    // Closed again, then c becomes a contact: every port.
    hypha(&lab, "a", &["firewall", "remove", "c", "22"]);
    assert!(!reach(&lab, &c, &a_addr, 22, "tcp"), "TCP after remove");
    hypha(&lab, "a", &["firewall", "contact", "c"]);
    assert!(reach(&lab, &c, &a_addr, 22, "tcp"), "TCP from a contact");
    assert!(reach(&lab, &c, &a_addr, 23, "udp"), "UDP from a contact");

    // Kept across a restart; the JSON view has the counters.
    lab.restart(
        da,
        "a",
        &["--no-multicast", "--peers", &peer, "--incoming", "contacts"],
    );
    lab.wait(Duration::from_secs(5), "a's API back", || {
        lab.cli("a", &["firewall"]).is_ok()
    });
    let json: serde_json::Value =
        serde_json::from_str(&hypha(&lab, "a", &["firewall", "--json"])).unwrap();
    assert_eq!(json["contacts"][0]["nodeId"], lab.d(dc).id().as_str());
    assert_eq!(json["incoming"], "contacts");
    hypha(&lab, "a", &["firewall", "incoming", "nobody"]);
    lab.wait(Duration::from_secs(10), "a and c linked again", || {
        ping(&lab, &c, &a_addr)
    });
    assert!(
        !reach(&lab, &c, &a_addr, 22, "tcp"),
        "nobody: TCP from a contact"
    );
    assert!(
        reach(&lab, &a, &c_addr, 8080, "tcp"),
        "nobody: a's own connections"
    );
    let json: serde_json::Value =
        serde_json::from_str(&hypha(&lab, "a", &["firewall", "--json"])).unwrap();
    assert!(json["droppedTcp"].as_u64().unwrap() >= 1, "{json}");
    for mut s in servers {
        let _ = s.kill();
        let _ = s.wait();
    }
}
